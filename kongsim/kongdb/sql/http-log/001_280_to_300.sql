-- Kong 3.0: http-log headers take one string per header instead of an array. Nothing changes
-- while old nodes run; the teardown keeps the first value of each header, which 2.8 nodes
-- cannot read.

-- +up
SELECT 1;

-- +teardown
UPDATE "plugins"
   SET "config" = jsonb_set("config", '{headers}',
         (SELECT COALESCE(jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'array' THEN v -> 0 ELSE v END), '{}'::jsonb)
            FROM jsonb_each("config" -> 'headers') AS h(k, v)))
 WHERE "name" = 'http-log' AND jsonb_typeof("config" -> 'headers') = 'object';
