-- +up
CREATE TABLE IF NOT EXISTS "jwt_secrets" (
  "id"              UUID                       PRIMARY KEY,
  "created_at"      TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "consumer_id"     UUID                       REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "key"             TEXT                       UNIQUE,
  "secret"          TEXT,
  "algorithm"       TEXT,
  "rsa_public_key"  TEXT
);
CREATE INDEX IF NOT EXISTS "jwt_secrets_consumer_id_idx" ON "jwt_secrets" ("consumer_id");
CREATE INDEX IF NOT EXISTS "jwt_secrets_secret_idx"      ON "jwt_secrets" ("secret");
