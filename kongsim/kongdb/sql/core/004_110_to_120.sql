-- Kong 1.2: routes.https_redirect_status_code.

-- +up
CREATE INDEX IF NOT EXISTS "cluster_events_expire_at_idx" ON "cluster_events" ("expire_at");

ALTER TABLE IF EXISTS ONLY "routes" ADD COLUMN IF NOT EXISTS "https_redirect_status_code" INTEGER;
