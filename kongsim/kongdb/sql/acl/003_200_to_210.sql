-- Workspaces for acls; the teardown moves existing rows into the default workspace.

-- +up
ALTER TABLE IF EXISTS ONLY "acls" ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
DO $$
BEGIN
  ALTER TABLE "acls" ADD CONSTRAINT "acls_id_ws_id_unique" UNIQUE ("id", "ws_id");
EXCEPTION WHEN duplicate_table OR duplicate_object THEN
END;
$$;

-- +teardown
UPDATE "acls" SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
