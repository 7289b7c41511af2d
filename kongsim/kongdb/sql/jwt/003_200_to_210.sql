-- Workspaces for jwt_secrets (Kong: operations.200_to_210 ws_migrate_plugin); the teardown moves
-- existing rows into the default workspace.

-- +up
ALTER TABLE IF EXISTS ONLY "jwt_secrets" ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
DO $$
BEGIN
  ALTER TABLE "jwt_secrets" ADD CONSTRAINT "jwt_secrets_id_ws_id_unique" UNIQUE ("id", "ws_id");
EXCEPTION WHEN duplicate_table OR duplicate_object THEN
END;
$$;

-- +teardown
UPDATE "jwt_secrets" SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
