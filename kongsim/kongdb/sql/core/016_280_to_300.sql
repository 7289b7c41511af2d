-- Kong 3.0. Up: the expressions router's routes.expression and routes.priority; targets get a
-- cache_key; upstreams hash on query arguments and URI captures; 2.8's vaults_beta is copied
-- into sm_vaults (the 3.0 vaults table); and, as the migration's up_f does, every route path
-- that is a regex (anything outside [a-zA-Z0-9._~/%-]) gets the "~" prefix 3.0 requires.
-- Teardown: duplicate targets are removed, targets.cache_key is filled, vaults_beta dropped.

-- +up
ALTER TABLE IF EXISTS ONLY "routes" ADD COLUMN IF NOT EXISTS "expression" TEXT;
ALTER TABLE IF EXISTS ONLY "routes" ADD COLUMN IF NOT EXISTS "priority" BIGINT;

ALTER TABLE IF EXISTS ONLY "targets" ADD COLUMN IF NOT EXISTS "cache_key" TEXT UNIQUE;

ALTER TABLE IF EXISTS ONLY "upstreams" ADD COLUMN IF NOT EXISTS "hash_on_query_arg" TEXT;
ALTER TABLE IF EXISTS ONLY "upstreams" ADD COLUMN IF NOT EXISTS "hash_fallback_query_arg" TEXT;
ALTER TABLE IF EXISTS ONLY "upstreams" ADD COLUMN IF NOT EXISTS "hash_on_uri_capture" TEXT;
ALTER TABLE IF EXISTS ONLY "upstreams" ADD COLUMN IF NOT EXISTS "hash_fallback_uri_capture" TEXT;

CREATE TABLE IF NOT EXISTS "sm_vaults" (
  "id"           UUID                       PRIMARY KEY,
  "ws_id"        UUID                       REFERENCES "workspaces" ("id"),
  "prefix"       TEXT                       UNIQUE,
  "name"         TEXT                       NOT NULL,
  "description"  TEXT,
  "config"       JSONB                      NOT NULL,
  "created_at"   TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "updated_at"   TIMESTAMP WITH TIME ZONE,
  "tags"         TEXT[],
  UNIQUE ("id", "ws_id"),
  UNIQUE ("prefix", "ws_id")
);
CREATE INDEX IF NOT EXISTS "sm_vaults_tags_idx" ON "sm_vaults" USING GIN ("tags");
DROP TRIGGER IF EXISTS "sm_vaults_sync_tags_trigger" ON "sm_vaults";
CREATE TRIGGER "sm_vaults_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "sm_vaults"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

DO $$
BEGIN
  IF to_regclass('vaults_beta') IS NOT NULL THEN
    INSERT INTO "sm_vaults" ("id", "ws_id", "prefix", "name", "description", "config",
                             "created_at", "updated_at", "tags")
         SELECT "id", "ws_id", "prefix", "name", "description", "config",
                "created_at", "updated_at", "tags"
           FROM "vaults_beta"
    ON CONFLICT DO NOTHING;
  END IF;
END;
$$;

UPDATE "routes"
   SET "paths" = ARRAY(
         SELECT CASE WHEN p LIKE '~%' OR p ~ '^[a-zA-Z0-9._~/%-]*$' THEN p ELSE '~' || p END
           FROM unnest("paths") WITH ORDINALITY AS u(p, n)
          ORDER BY n)
 WHERE EXISTS (SELECT 1 FROM unnest("paths") AS u(p)
                WHERE NOT (p LIKE '~%' OR p ~ '^[a-zA-Z0-9._~/%-]*$'));

-- +teardown
DELETE FROM "targets" t1
      USING "targets" t2
      WHERE t1."created_at" < t2."created_at"
        AND t1."upstream_id" = t2."upstream_id"
        AND t1."target" = t2."target";
UPDATE "targets" SET "cache_key" = CONCAT('targets:', "upstream_id", ':', "target", '::::', "ws_id");

DROP TABLE IF EXISTS "vaults_beta";
