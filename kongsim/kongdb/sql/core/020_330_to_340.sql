-- Kong 3.4: Wasm filter chains; the legacy ttls table (unused since 1.x) is dropped.

-- +up
CREATE TABLE IF NOT EXISTS "filter_chains" (
  "id"          UUID                       PRIMARY KEY,
  "name"        TEXT                       UNIQUE,
  "enabled"     BOOLEAN                    DEFAULT TRUE,
  "route_id"    UUID                       REFERENCES "routes"     ("id") ON DELETE CASCADE,
  "service_id"  UUID                       REFERENCES "services"   ("id") ON DELETE CASCADE,
  "ws_id"       UUID                       REFERENCES "workspaces" ("id") ON DELETE CASCADE,
  "cache_key"   TEXT                       UNIQUE,
  "filters"     JSONB[],
  "tags"        TEXT[],
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "updated_at"  TIMESTAMP WITH TIME ZONE
);
CREATE INDEX IF NOT EXISTS "filter_chains_tags_idx" ON "filter_chains" USING GIN ("tags");
DROP TRIGGER IF EXISTS "filter_chains_sync_tags_trigger" ON "filter_chains";
CREATE TRIGGER "filter_chains_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "filter_chains"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

DROP TABLE IF EXISTS "ttls";
