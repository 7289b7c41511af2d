-- Kong 3.6 shared Redis configuration, as for rate-limiting.

-- +up
UPDATE "plugins"
   SET "config" = jsonb_set("config", '{redis}',
         COALESCE("config" -> 'redis', '{}'::jsonb)
         || jsonb_build_object('host', "config" -> 'redis_host', 'port', "config" -> 'redis_port',
                               'username', "config" -> 'redis_username', 'password', "config" -> 'redis_password',
                               'database', "config" -> 'redis_database', 'timeout', "config" -> 'redis_timeout',
                               'ssl', "config" -> 'redis_ssl', 'ssl_verify', "config" -> 'redis_ssl_verify',
                               'server_name', "config" -> 'redis_server_name'))
 WHERE "name" = 'response-ratelimiting' AND "config" ? 'redis_host';

-- +teardown
UPDATE "plugins"
   SET "config" = "config" - 'redis_host' - 'redis_port' - 'redis_username' - 'redis_password'
                           - 'redis_database' - 'redis_timeout' - 'redis_ssl' - 'redis_ssl_verify'
                           - 'redis_server_name'
 WHERE "name" = 'response-ratelimiting' AND "config" ? 'redis_host';
