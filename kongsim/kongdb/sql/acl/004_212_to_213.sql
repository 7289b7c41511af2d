-- The teardown rewrites acl cache keys to the workspace-aware format.

-- +up
CREATE INDEX IF NOT EXISTS "acls_ws_id_idx" ON "acls" ("ws_id");

-- +teardown
UPDATE "acls" SET "cache_key" = CONCAT('acls:', "consumer_id", ':', "group", '::::', "ws_id");
