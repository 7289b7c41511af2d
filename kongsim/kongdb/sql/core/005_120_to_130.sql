-- Kong 1.3: upstreams.algorithm, ca_certificates, routes.headers, services.client_certificate_id.
-- The teardown fills algorithm for upstreams created by older nodes.

-- +up
ALTER TABLE IF EXISTS ONLY "upstreams" ADD COLUMN IF NOT EXISTS "algorithm" TEXT;

CREATE TABLE IF NOT EXISTS "ca_certificates" (
  "id"          UUID                       PRIMARY KEY,
  "created_at"  TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "cert"        TEXT                       NOT NULL UNIQUE,
  "tags"        TEXT[]
);
CREATE INDEX IF NOT EXISTS "ca_certificates_tags_idx" ON "ca_certificates" USING GIN ("tags");
DROP TRIGGER IF EXISTS "ca_certificates_sync_tags_trigger" ON "ca_certificates";
CREATE TRIGGER "ca_certificates_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "ca_certificates"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

ALTER TABLE IF EXISTS ONLY "routes" ADD COLUMN IF NOT EXISTS "headers" JSONB;

ALTER TABLE IF EXISTS ONLY "services"
  ADD COLUMN IF NOT EXISTS "client_certificate_id" UUID REFERENCES "certificates" ("id");
CREATE INDEX IF NOT EXISTS "services_fkey_client_certificate" ON "services" ("client_certificate_id");

-- +teardown
UPDATE "upstreams"
   SET "algorithm" = CASE WHEN "hash_on" IS NULL OR "hash_on" = 'none'
                          THEN 'round-robin' ELSE 'consistent-hashing' END
 WHERE "algorithm" IS NULL OR "algorithm" = '';
