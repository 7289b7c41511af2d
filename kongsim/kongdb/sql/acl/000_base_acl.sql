-- +up
CREATE TABLE IF NOT EXISTS "acls" (
  "id"           UUID                       PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID                       REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "group"        TEXT,
  "cache_key"    TEXT                       UNIQUE
);
CREATE INDEX IF NOT EXISTS "acls_consumer_id_idx" ON "acls" ("consumer_id");
CREATE INDEX IF NOT EXISTS "acls_group_idx"       ON "acls" ("group");
