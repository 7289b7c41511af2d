-- Kong 2.1: workspaces. The default workspace is created and every core entity gets ws_id
-- (operations/200_to_210.lua), with names unique per workspace. ca_certificates get
-- cert_digest, services get TLS verification settings, upstreams a client certificate.
-- The teardown moves existing rows into the default workspace, rewrites plugin cache keys
-- and fills cert_digest.

-- +up
ALTER TABLE IF EXISTS ONLY "ca_certificates" DROP CONSTRAINT IF EXISTS "ca_certificates_cert_key";
ALTER TABLE IF EXISTS ONLY "ca_certificates" ADD COLUMN IF NOT EXISTS "cert_digest" TEXT UNIQUE;

ALTER TABLE IF EXISTS ONLY "services" ADD COLUMN IF NOT EXISTS "tls_verify" BOOLEAN;
ALTER TABLE IF EXISTS ONLY "services" ADD COLUMN IF NOT EXISTS "tls_verify_depth" SMALLINT;
ALTER TABLE IF EXISTS ONLY "services" ADD COLUMN IF NOT EXISTS "ca_certificates" UUID[];

ALTER TABLE IF EXISTS ONLY "upstreams"
  ADD COLUMN IF NOT EXISTS "client_certificate_id" UUID REFERENCES "certificates" ("id");
CREATE INDEX IF NOT EXISTS "upstreams_fkey_client_certificate" ON "upstreams" ("client_certificate_id");

CREATE TABLE IF NOT EXISTS "workspaces" (
  "id"          UUID                       PRIMARY KEY,
  "name"        TEXT                       UNIQUE,
  "comment"     TEXT,
  "created_at"  TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "meta"        JSONB,
  "config"      JSONB
);
CREATE INDEX IF NOT EXISTS "workspaces_name_idx" ON "workspaces" ("name");

INSERT INTO "workspaces" ("id", "name")
     SELECT md5(random()::text || clock_timestamp()::text)::uuid, 'default'
      WHERE NOT EXISTS (SELECT 1 FROM "workspaces" WHERE "name" = 'default');

ALTER TABLE IF EXISTS ONLY "upstreams"    ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "targets"      ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "consumers"    ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "certificates" ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "snis"         ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "services"     ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "routes"       ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");
ALTER TABLE IF EXISTS ONLY "plugins"      ADD COLUMN IF NOT EXISTS "ws_id" UUID REFERENCES "workspaces" ("id");

ALTER TABLE IF EXISTS ONLY "upstreams" DROP CONSTRAINT IF EXISTS "upstreams_name_key";
ALTER TABLE IF EXISTS ONLY "consumers" DROP CONSTRAINT IF EXISTS "consumers_username_key";
ALTER TABLE IF EXISTS ONLY "consumers" DROP CONSTRAINT IF EXISTS "consumers_custom_id_key";
ALTER TABLE IF EXISTS ONLY "services"  DROP CONSTRAINT IF EXISTS "services_name_key";
ALTER TABLE IF EXISTS ONLY "routes"    DROP CONSTRAINT IF EXISTS "routes_name_key";

DO $$
BEGIN
  ALTER TABLE "upstreams"    ADD CONSTRAINT "upstreams_id_ws_id_unique"       UNIQUE ("id", "ws_id");
  ALTER TABLE "upstreams"    ADD CONSTRAINT "upstreams_ws_id_name_unique"     UNIQUE ("ws_id", "name");
  ALTER TABLE "targets"      ADD CONSTRAINT "targets_id_ws_id_unique"         UNIQUE ("id", "ws_id");
  ALTER TABLE "consumers"    ADD CONSTRAINT "consumers_id_ws_id_unique"       UNIQUE ("id", "ws_id");
  ALTER TABLE "consumers"    ADD CONSTRAINT "consumers_ws_id_username_unique" UNIQUE ("ws_id", "username");
  ALTER TABLE "consumers"    ADD CONSTRAINT "consumers_ws_id_custom_id_unique" UNIQUE ("ws_id", "custom_id");
  ALTER TABLE "certificates" ADD CONSTRAINT "certificates_id_ws_id_unique"    UNIQUE ("id", "ws_id");
  ALTER TABLE "snis"         ADD CONSTRAINT "snis_id_ws_id_unique"            UNIQUE ("id", "ws_id");
  ALTER TABLE "services"     ADD CONSTRAINT "services_id_ws_id_unique"        UNIQUE ("id", "ws_id");
  ALTER TABLE "services"     ADD CONSTRAINT "services_ws_id_name_unique"      UNIQUE ("ws_id", "name");
  ALTER TABLE "routes"       ADD CONSTRAINT "routes_id_ws_id_unique"          UNIQUE ("id", "ws_id");
  ALTER TABLE "routes"       ADD CONSTRAINT "routes_ws_id_name_unique"        UNIQUE ("ws_id", "name");
  ALTER TABLE "plugins"      ADD CONSTRAINT "plugins_id_ws_id_unique"         UNIQUE ("id", "ws_id");
EXCEPTION WHEN duplicate_table OR duplicate_object THEN
  -- already there: accept the existing state
END;
$$;

CREATE INDEX IF NOT EXISTS "upstreams_ws_id_idx"    ON "upstreams"    ("ws_id");
CREATE INDEX IF NOT EXISTS "targets_ws_id_idx"      ON "targets"      ("ws_id");
CREATE INDEX IF NOT EXISTS "consumers_ws_id_idx"    ON "consumers"    ("ws_id");
CREATE INDEX IF NOT EXISTS "certificates_ws_id_idx" ON "certificates" ("ws_id");
CREATE INDEX IF NOT EXISTS "snis_ws_id_idx"         ON "snis"         ("ws_id");
CREATE INDEX IF NOT EXISTS "services_ws_id_idx"     ON "services"     ("ws_id");
CREATE INDEX IF NOT EXISTS "routes_ws_id_idx"       ON "routes"       ("ws_id");
CREATE INDEX IF NOT EXISTS "plugins_ws_id_idx"      ON "plugins"      ("ws_id");

-- +teardown
UPDATE "upstreams"    SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "targets"      SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "consumers"    SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "certificates" SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "snis"         SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "services"     SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "routes"       SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;
UPDATE "plugins"      SET "ws_id" = (SELECT "id" FROM "workspaces" WHERE "name" = 'default') WHERE "ws_id" IS NULL;

UPDATE "plugins"
   SET "cache_key" = CONCAT('plugins:', "name", ':', "route_id", ':', "service_id", ':', "consumer_id", '::', "ws_id")
 WHERE "cache_key" IS NULL OR "cache_key" NOT LIKE ('%:' || "ws_id"::text);

UPDATE "ca_certificates"
   SET "cert_digest" = encode(sha256(convert_to("cert", 'UTF8')), 'hex')
 WHERE "cert_digest" IS NULL;
ALTER TABLE IF EXISTS ONLY "ca_certificates" ALTER COLUMN "cert_digest" SET NOT NULL;
