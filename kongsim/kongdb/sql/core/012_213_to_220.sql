-- Kong 2.2: hybrid mode's clustering_data_planes; routes request/response buffering. The
-- teardown removes targets superseded by a newer row for the same upstream and target.

-- +up
CREATE TABLE IF NOT EXISTS "clustering_data_planes" (
  "id"           UUID                       PRIMARY KEY,
  "hostname"     TEXT                       NOT NULL,
  "ip"           TEXT                       NOT NULL,
  "last_seen"    TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "config_hash"  TEXT                       NOT NULL,
  "ttl"          TIMESTAMP WITH TIME ZONE
);
CREATE INDEX IF NOT EXISTS "clustering_data_planes_ttl_idx" ON "clustering_data_planes" ("ttl");

ALTER TABLE IF EXISTS ONLY "routes" ADD COLUMN IF NOT EXISTS "request_buffering" BOOLEAN;
ALTER TABLE IF EXISTS ONLY "routes" ADD COLUMN IF NOT EXISTS "response_buffering" BOOLEAN;

-- +teardown
DELETE FROM "targets" t1
      USING "targets" t2
      WHERE t1."created_at" < t2."created_at"
        AND t1."upstream_id" = t2."upstream_id"
        AND t1."target" = t2."target";
