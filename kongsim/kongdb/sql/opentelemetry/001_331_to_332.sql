-- Queue parameters (operations/331_to_332.lua): up copies batch_span_count and
-- batch_flush_delay into config.queue; the teardown removes the old keys.

-- +up
UPDATE "plugins"
   SET "config" = jsonb_set("config", '{queue}',
         COALESCE("config" -> 'queue', '{}'::jsonb)
         || jsonb_strip_nulls(jsonb_build_object('max_batch_size', "config" -> 'batch_span_count',
                                                 'max_coalescing_delay', "config" -> 'batch_flush_delay')))
 WHERE "name" = 'opentelemetry' AND ("config" ? 'batch_span_count' OR "config" ? 'batch_flush_delay');

-- +teardown
UPDATE "plugins" SET "config" = "config" - 'batch_span_count' - 'batch_flush_delay'
 WHERE "name" = 'opentelemetry' AND ("config" ? 'batch_span_count' OR "config" ? 'batch_flush_delay');
