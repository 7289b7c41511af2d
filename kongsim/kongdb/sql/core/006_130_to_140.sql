-- Kong 1.4: upstreams.host_header; cluster_events loses its cleanup trigger.

-- +up
ALTER TABLE IF EXISTS ONLY "upstreams" ADD COLUMN IF NOT EXISTS "host_header" TEXT;

DROP TRIGGER IF EXISTS "delete_expired_cluster_events_trigger" ON "cluster_events";
DROP FUNCTION IF EXISTS "delete_expired_cluster_events" ();
