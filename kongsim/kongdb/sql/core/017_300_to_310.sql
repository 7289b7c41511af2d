-- Kong 3.1: upstreams.use_srv_name; JSON Web Keys (key_sets, keys).

-- +up
ALTER TABLE IF EXISTS ONLY "upstreams" ADD COLUMN IF NOT EXISTS "use_srv_name" BOOLEAN DEFAULT false;

CREATE TABLE IF NOT EXISTS "key_sets" (
  "id"          UUID                       PRIMARY KEY,
  "name"        TEXT                       UNIQUE,
  "tags"        TEXT[],
  "ws_id"       UUID                       REFERENCES "workspaces" ("id"),
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "updated_at"  TIMESTAMP WITH TIME ZONE
);
CREATE INDEX IF NOT EXISTS "key_sets_tags_idx" ON "key_sets" USING GIN ("tags");
DROP TRIGGER IF EXISTS "key_sets_sync_tags_trigger" ON "key_sets";
CREATE TRIGGER "key_sets_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "key_sets"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "keys" (
  "id"          UUID                       PRIMARY KEY,
  "set_id"      UUID                       REFERENCES "key_sets" ("id") ON DELETE CASCADE,
  "name"        TEXT                       UNIQUE,
  "cache_key"   TEXT                       UNIQUE,
  "ws_id"       UUID                       REFERENCES "workspaces" ("id"),
  "kid"         TEXT,
  "jwk"         TEXT,
  "pem"         JSONB,
  "tags"        TEXT[],
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "updated_at"  TIMESTAMP WITH TIME ZONE,
  UNIQUE ("kid", "set_id")
);
CREATE INDEX IF NOT EXISTS "keys_fkey_key_sets" ON "keys" ("set_id");
CREATE INDEX IF NOT EXISTS "keys_tags_idx"      ON "keys" USING GIN ("tags");
DROP TRIGGER IF EXISTS "keys_sync_tags_trigger" ON "keys";
CREATE TRIGGER "keys_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "keys"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();
