-- +up
DROP TRIGGER IF EXISTS "sessions_ttl_trigger" ON "sessions";
CREATE TRIGGER "sessions_ttl_trigger"
  AFTER INSERT ON "sessions"
  FOR EACH STATEMENT EXECUTE PROCEDURE batch_delete_expired_rows("ttl");
