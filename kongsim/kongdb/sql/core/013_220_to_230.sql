-- Kong 2.3: the parameters table with the cluster_id; alternate (ECDSA) certificates; data
-- plane version and sync status.

-- +up
CREATE TABLE IF NOT EXISTS "parameters" (
  "key"         TEXT                       PRIMARY KEY,
  "value"       TEXT                       NOT NULL,
  "created_at"  TIMESTAMP WITH TIME ZONE
);
INSERT INTO "parameters" ("key", "value")
     VALUES ('cluster_id', md5(random()::text || clock_timestamp()::text)::uuid::text)
ON CONFLICT DO NOTHING;

ALTER TABLE IF EXISTS ONLY "certificates" ADD COLUMN IF NOT EXISTS "cert_alt" TEXT;
ALTER TABLE IF EXISTS ONLY "certificates" ADD COLUMN IF NOT EXISTS "key_alt" TEXT;

ALTER TABLE IF EXISTS ONLY "clustering_data_planes" ADD COLUMN IF NOT EXISTS "version" TEXT;
ALTER TABLE IF EXISTS ONLY "clustering_data_planes"
  ADD COLUMN IF NOT EXISTS "sync_status" TEXT NOT NULL DEFAULT 'unknown';
