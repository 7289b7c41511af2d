-- +up
ALTER TABLE IF EXISTS ONLY "hmacauth_credentials" ADD COLUMN IF NOT EXISTS "tags" TEXT[];
CREATE INDEX IF NOT EXISTS "hmacauth_tags_idex_tags_idx" ON "hmacauth_credentials" USING GIN ("tags");
DROP TRIGGER IF EXISTS "hmacauth_sync_tags_trigger" ON "hmacauth_credentials";
CREATE TRIGGER "hmacauth_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "hmacauth_credentials"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();
