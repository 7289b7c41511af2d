-- +up
DROP TRIGGER IF EXISTS "ratelimiting_metrics_ttl_trigger" ON "ratelimiting_metrics";
CREATE TRIGGER "ratelimiting_metrics_ttl_trigger"
  AFTER INSERT ON "ratelimiting_metrics"
  FOR EACH STATEMENT EXECUTE PROCEDURE batch_delete_expired_rows("ttl");
