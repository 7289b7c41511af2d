-- +up
CREATE TABLE IF NOT EXISTS "keyauth_credentials" (
  "id"           UUID                       PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID                       REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "key"          TEXT                       UNIQUE
);
CREATE INDEX IF NOT EXISTS "keyauth_credentials_consumer_id_idx" ON "keyauth_credentials" ("consumer_id");
