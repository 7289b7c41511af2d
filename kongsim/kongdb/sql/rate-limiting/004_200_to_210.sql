-- +up
ALTER TABLE IF EXISTS ONLY "ratelimiting_metrics" ADD COLUMN IF NOT EXISTS "ttl" TIMESTAMP WITH TIME ZONE;
CREATE INDEX IF NOT EXISTS "ratelimiting_metrics_ttl_idx" ON "ratelimiting_metrics" ("ttl");
