-- Workspaces for keyauth_credentials (Kong: operations.200_to_210 ws_migrate_plugin); the teardown moves
-- existing rows into the default workspace.

-- +up
ALTER TABLE IF EXISTS ONLY "keyauth_credentials" ADD COLUMN IF NOT EXISTS "ttl" TIMESTAMP WITH TIME ZONE;
CREATE INDEX IF NOT EXISTS "keyauth_credentials_ttl_idx" ON "keyauth_credentials" ("ttl");
ALTER TABLE IF EXISTS ONLY "keyauth_credentials" ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
DO $$
BEGIN
  ALTER TABLE "keyauth_credentials" ADD CONSTRAINT "keyauth_credentials_id_ws_id_unique" UNIQUE ("id", "ws_id");
EXCEPTION WHEN duplicate_table OR duplicate_object THEN
END;
$$;

-- +teardown
UPDATE "keyauth_credentials" SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
