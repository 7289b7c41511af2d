-- Shared Redis configuration: up adds config.storage_config.redis's new keys next to the old
-- ones (old nodes keep working); the teardown removes the old keys.

-- +up
UPDATE "plugins"
   SET "config" = jsonb_set(
         "config",
         '{storage_config,redis}',
         ("config" #> '{storage_config,redis}')
           || jsonb_strip_nulls(jsonb_build_object(
                'server_name', "config" #> '{storage_config,redis,ssl_server_name}',
                'extra_options', jsonb_build_object(
                   'namespace', "config" #> '{storage_config,redis,namespace}',
                   'scan_count', "config" #> '{storage_config,redis,scan_count}'))))
 WHERE "name" = 'acme' AND jsonb_typeof("config" #> '{storage_config,redis}') = 'object';

-- +teardown
UPDATE "plugins"
   SET "config" = jsonb_set(
         "config",
         '{storage_config,redis}',
         ("config" #> '{storage_config,redis}') - 'ssl_server_name' - 'namespace' - 'scan_count')
 WHERE "name" = 'acme' AND jsonb_typeof("config" #> '{storage_config,redis}') = 'object';
