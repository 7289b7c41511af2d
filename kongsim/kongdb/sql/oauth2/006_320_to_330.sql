-- +up
ALTER TABLE IF EXISTS ONLY "oauth2_tokens" ADD COLUMN IF NOT EXISTS "plugin_id" UUID REFERENCES "plugins" ("id") ON DELETE CASCADE;
CREATE INDEX IF NOT EXISTS "oauth2_tokens_plugin_id_idx" ON "oauth2_tokens" ("plugin_id");
