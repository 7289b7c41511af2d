-- Workspaces for the oauth2 tables; PKCE challenge on authorization codes. The teardown moves
-- existing rows into the default workspace.

-- +up
ALTER TABLE IF EXISTS ONLY "oauth2_credentials"         ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "oauth2_authorization_codes" ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "oauth2_tokens"              ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "oauth2_authorization_codes" ADD COLUMN IF NOT EXISTS "challenge" TEXT;
ALTER TABLE IF EXISTS ONLY "oauth2_authorization_codes" ADD COLUMN IF NOT EXISTS "challenge_method" TEXT;
ALTER TABLE IF EXISTS ONLY "oauth2_credentials"         ADD COLUMN IF NOT EXISTS "client_type" TEXT;
ALTER TABLE IF EXISTS ONLY "oauth2_credentials"         ADD COLUMN IF NOT EXISTS "hash_secret" BOOLEAN;

-- +teardown
UPDATE "oauth2_credentials"         SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "oauth2_authorization_codes" SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "oauth2_tokens"              SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
