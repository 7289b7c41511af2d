-- +up
ALTER TABLE IF EXISTS ONLY "acls" ADD COLUMN IF NOT EXISTS "tags" TEXT[];
CREATE INDEX IF NOT EXISTS "acls_tags_idex_tags_idx" ON "acls" USING GIN ("tags");
DROP TRIGGER IF EXISTS "acls_sync_tags_trigger" ON "acls";
CREATE TRIGGER "acls_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "acls"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();
