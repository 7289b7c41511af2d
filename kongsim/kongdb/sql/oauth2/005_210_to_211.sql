-- +up
ALTER TABLE IF EXISTS ONLY "oauth2_authorization_codes" ADD COLUMN IF NOT EXISTS "plugin_id" UUID REFERENCES "plugins" ("id") ON DELETE CASCADE;
CREATE INDEX IF NOT EXISTS "oauth2_authorization_codes_plugin_id_idx" ON "oauth2_authorization_codes" ("plugin_id");
