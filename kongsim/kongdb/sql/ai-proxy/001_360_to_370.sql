-- Teardown only: ai-proxy configs get the 3.7 defaults for fields old nodes reject.

-- +up
-- nothing to do before old nodes are gone
SELECT 1;

-- +teardown
UPDATE "plugins"
   SET "config" = jsonb_set("config", '{response_streaming}', '"allow"', true)
 WHERE "name" = 'ai-proxy' AND NOT ("config" ? 'response_streaming');
