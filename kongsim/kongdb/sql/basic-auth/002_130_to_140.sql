-- +up
ALTER TABLE IF EXISTS ONLY "basicauth_credentials" ADD COLUMN IF NOT EXISTS "tags" TEXT[];
CREATE INDEX IF NOT EXISTS "basicauth_tags_idex_tags_idx" ON "basicauth_credentials" USING GIN ("tags");
DROP TRIGGER IF EXISTS "basicauth_sync_tags_trigger" ON "basicauth_credentials";
CREATE TRIGGER "basicauth_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "basicauth_credentials"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();
