-- +up
ALTER TABLE IF EXISTS ONLY "jwt_secrets" ADD COLUMN IF NOT EXISTS "tags" TEXT[];
CREATE INDEX IF NOT EXISTS "jwtsecrets_tags_idex_tags_idx" ON "jwt_secrets" USING GIN ("tags");
DROP TRIGGER IF EXISTS "jwtsecrets_sync_tags_trigger" ON "jwt_secrets";
CREATE TRIGGER "jwtsecrets_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "jwt_secrets"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();
