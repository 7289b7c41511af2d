-- +up
ALTER TABLE IF EXISTS ONLY "keyauth_credentials" ADD COLUMN IF NOT EXISTS "tags" TEXT[];
CREATE INDEX IF NOT EXISTS "keyauth_tags_idex_tags_idx" ON "keyauth_credentials" USING GIN ("tags");
DROP TRIGGER IF EXISTS "keyauth_sync_tags_trigger" ON "keyauth_credentials";
CREATE TRIGGER "keyauth_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "keyauth_credentials"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();
