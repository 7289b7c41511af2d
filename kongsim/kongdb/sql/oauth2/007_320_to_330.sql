-- +up
DROP TRIGGER IF EXISTS "oauth2_authorization_codes_ttl_trigger" ON "oauth2_authorization_codes";
CREATE TRIGGER "oauth2_authorization_codes_ttl_trigger"
  AFTER INSERT ON "oauth2_authorization_codes"
  FOR EACH STATEMENT EXECUTE PROCEDURE batch_delete_expired_rows("ttl");
DROP TRIGGER IF EXISTS "oauth2_tokens_ttl_trigger" ON "oauth2_tokens";
CREATE TRIGGER "oauth2_tokens_ttl_trigger"
  AFTER INSERT ON "oauth2_tokens"
  FOR EACH STATEMENT EXECUTE PROCEDURE batch_delete_expired_rows("ttl");
