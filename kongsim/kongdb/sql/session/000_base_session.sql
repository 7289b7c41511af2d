-- +up
CREATE TABLE IF NOT EXISTS "sessions" (
  "id"          UUID                       PRIMARY KEY,
  "session_id"  TEXT                       UNIQUE,
  "expires"     INTEGER,
  "data"        TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE,
  "ttl"         TIMESTAMP WITH TIME ZONE
);
CREATE INDEX IF NOT EXISTS "session_sessions_expires_idx" ON "sessions" ("expires");
