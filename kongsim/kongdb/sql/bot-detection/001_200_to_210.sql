-- Kong 2.1 renames whitelist/blacklist to allow/deny; up copies, the teardown drops the old keys.

-- +up
UPDATE "plugins"
   SET "config" = "config" || jsonb_strip_nulls(jsonb_build_object('allow', "config" -> 'whitelist', 'deny', "config" -> 'blacklist'))
 WHERE "name" = 'bot-detection' AND ("config" ? 'whitelist' OR "config" ? 'blacklist');

-- +teardown
UPDATE "plugins" SET "config" = "config" - 'whitelist' - 'blacklist'
 WHERE "name" = 'bot-detection' AND ("config" ? 'whitelist' OR "config" ? 'blacklist');
