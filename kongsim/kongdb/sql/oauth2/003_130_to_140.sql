-- +up
ALTER TABLE IF EXISTS ONLY "oauth2_credentials" ADD COLUMN IF NOT EXISTS "tags" TEXT[];
CREATE INDEX IF NOT EXISTS "oauth2_credentials_tags_idex_tags_idx" ON "oauth2_credentials" USING GIN ("tags");
DROP TRIGGER IF EXISTS "oauth2_credentials_sync_tags_trigger" ON "oauth2_credentials";
CREATE TRIGGER "oauth2_credentials_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "oauth2_credentials"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();
