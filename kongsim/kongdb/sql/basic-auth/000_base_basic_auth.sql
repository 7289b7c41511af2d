-- +up
CREATE TABLE IF NOT EXISTS "basicauth_credentials" (
  "id"           UUID                       PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"  UUID                       REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "username"     TEXT                       UNIQUE,
  "password"     TEXT
);
CREATE INDEX IF NOT EXISTS "basicauth_consumer_id_idx" ON "basicauth_credentials" ("consumer_id");
