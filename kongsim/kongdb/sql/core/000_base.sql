-- Kong 1.0 base schema, as 000_base.lua stands today (tags folded in). Every statement is
-- idempotent: "kong migrations up -f" runs it again on a newer schema.

-- +up
CREATE TABLE IF NOT EXISTS "cluster_events" (
  "id"         UUID                       PRIMARY KEY,
  "node_id"    UUID                       NOT NULL,
  "at"         TIMESTAMP WITH TIME ZONE   NOT NULL,
  "nbf"        TIMESTAMP WITH TIME ZONE,
  "expire_at"  TIMESTAMP WITH TIME ZONE   NOT NULL,
  "channel"    TEXT,
  "data"       TEXT
);
CREATE INDEX IF NOT EXISTS "idx_cluster_events_at"      ON "cluster_events" ("at");
CREATE INDEX IF NOT EXISTS "idx_cluster_events_channel" ON "cluster_events" ("channel");

CREATE OR REPLACE FUNCTION "delete_expired_cluster_events" () RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
  BEGIN
    DELETE FROM "cluster_events" WHERE "expire_at" <= CURRENT_TIMESTAMP AT TIME ZONE 'UTC';
    RETURN NEW;
  END;
$$;
DROP TRIGGER IF EXISTS "delete_expired_cluster_events_trigger" ON "cluster_events";
CREATE TRIGGER "delete_expired_cluster_events_trigger"
  AFTER INSERT ON "cluster_events"
  FOR EACH STATEMENT
  EXECUTE PROCEDURE delete_expired_cluster_events();

CREATE TABLE IF NOT EXISTS "tags" (
  "entity_id"    UUID  PRIMARY KEY,
  "entity_name"  TEXT,
  "tags"         TEXT[]
);
CREATE INDEX IF NOT EXISTS "tags_entity_name_idx" ON "tags" ("entity_name");
CREATE INDEX IF NOT EXISTS "tags_tags_idx"        ON "tags" USING GIN ("tags");

CREATE OR REPLACE FUNCTION "sync_tags" () RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
  BEGIN
    IF (TG_OP = 'TRUNCATE') THEN
      DELETE FROM "tags" WHERE "entity_name" = TG_TABLE_NAME;
      RETURN NULL;
    ELSIF (TG_OP = 'DELETE') THEN
      DELETE FROM "tags" WHERE "entity_id" = OLD."id";
      RETURN OLD;
    ELSE
      IF NEW."tags" IS NULL OR cardinality(NEW."tags") = 0 THEN
        DELETE FROM "tags" WHERE "entity_id" = NEW."id";
      ELSE
        INSERT INTO "tags" ("entity_id", "entity_name", "tags")
             VALUES (NEW."id", TG_TABLE_NAME, NEW."tags")
        ON CONFLICT ("entity_id") DO UPDATE SET "tags" = EXCLUDED."tags";
      END IF;
      RETURN NEW;
    END IF;
  END;
$$;

CREATE TABLE IF NOT EXISTS "services" (
  "id"               UUID                       PRIMARY KEY,
  "created_at"       TIMESTAMP WITH TIME ZONE,
  "updated_at"       TIMESTAMP WITH TIME ZONE,
  "name"             TEXT                       UNIQUE,
  "retries"          BIGINT,
  "protocol"         TEXT,
  "host"             TEXT,
  "port"             BIGINT,
  "path"             TEXT,
  "connect_timeout"  BIGINT,
  "write_timeout"    BIGINT,
  "read_timeout"     BIGINT,
  "tags"             TEXT[]
);
CREATE INDEX IF NOT EXISTS "services_tags_idx" ON "services" USING GIN ("tags");
DROP TRIGGER IF EXISTS "services_sync_tags_trigger" ON "services";
CREATE TRIGGER "services_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "services"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "routes" (
  "id"              UUID                       PRIMARY KEY,
  "created_at"      TIMESTAMP WITH TIME ZONE,
  "updated_at"      TIMESTAMP WITH TIME ZONE,
  "name"            TEXT                       UNIQUE,
  "service_id"      UUID                       REFERENCES "services" ("id"),
  "protocols"       TEXT[],
  "methods"         TEXT[],
  "hosts"           TEXT[],
  "paths"           TEXT[],
  "snis"            TEXT[],
  "sources"         JSONB[],
  "destinations"    JSONB[],
  "regex_priority"  BIGINT,
  "strip_path"      BOOLEAN,
  "preserve_host"   BOOLEAN,
  "tags"            TEXT[]
);
CREATE INDEX IF NOT EXISTS "routes_service_id_idx" ON "routes" ("service_id");
CREATE INDEX IF NOT EXISTS "routes_tags_idx"       ON "routes" USING GIN ("tags");
DROP TRIGGER IF EXISTS "routes_sync_tags_trigger" ON "routes";
CREATE TRIGGER "routes_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "routes"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "certificates" (
  "id"          UUID                       PRIMARY KEY,
  "created_at"  TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "cert"        TEXT,
  "key"         TEXT,
  "tags"        TEXT[]
);
CREATE INDEX IF NOT EXISTS "certificates_tags_idx" ON "certificates" USING GIN ("tags");
DROP TRIGGER IF EXISTS "certificates_sync_tags_trigger" ON "certificates";
CREATE TRIGGER "certificates_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "certificates"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "snis" (
  "id"              UUID                       PRIMARY KEY,
  "created_at"      TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"            TEXT                       NOT NULL UNIQUE,
  "certificate_id"  UUID                       REFERENCES "certificates" ("id"),
  "tags"            TEXT[]
);
CREATE INDEX IF NOT EXISTS "snis_certificate_id_idx" ON "snis" ("certificate_id");
CREATE INDEX IF NOT EXISTS "snis_tags_idx"           ON "snis" USING GIN ("tags");
DROP TRIGGER IF EXISTS "snis_sync_tags_trigger" ON "snis";
CREATE TRIGGER "snis_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "snis"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "consumers" (
  "id"          UUID                       PRIMARY KEY,
  "created_at"  TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "username"    TEXT                       UNIQUE,
  "custom_id"   TEXT                       UNIQUE,
  "tags"        TEXT[]
);
CREATE INDEX IF NOT EXISTS "consumers_username_idx" ON "consumers" (LOWER("username"));
CREATE INDEX IF NOT EXISTS "consumers_tags_idx"     ON "consumers" USING GIN ("tags");
DROP TRIGGER IF EXISTS "consumers_sync_tags_trigger" ON "consumers";
CREATE TRIGGER "consumers_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "consumers"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "plugins" (
  "id"           UUID                       PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC'),
  "name"         TEXT                       NOT NULL,
  "consumer_id"  UUID                       REFERENCES "consumers" ("id") ON DELETE CASCADE,
  "service_id"   UUID                       REFERENCES "services"  ("id") ON DELETE CASCADE,
  "route_id"     UUID                       REFERENCES "routes"    ("id") ON DELETE CASCADE,
  "config"       JSONB                      NOT NULL,
  "enabled"      BOOLEAN                    NOT NULL,
  "cache_key"    TEXT                       UNIQUE,
  "run_on"       TEXT,
  "protocols"    TEXT[],
  "tags"         TEXT[]
);
CREATE INDEX IF NOT EXISTS "plugins_name_idx"        ON "plugins" ("name");
CREATE INDEX IF NOT EXISTS "plugins_consumer_id_idx" ON "plugins" ("consumer_id");
CREATE INDEX IF NOT EXISTS "plugins_service_id_idx"  ON "plugins" ("service_id");
CREATE INDEX IF NOT EXISTS "plugins_route_id_idx"    ON "plugins" ("route_id");
CREATE INDEX IF NOT EXISTS "plugins_tags_idx"        ON "plugins" USING GIN ("tags");
DROP TRIGGER IF EXISTS "plugins_sync_tags_trigger" ON "plugins";
CREATE TRIGGER "plugins_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "plugins"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "upstreams" (
  "id"                    UUID                       PRIMARY KEY,
  "created_at"            TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(3) AT TIME ZONE 'UTC'),
  "name"                  TEXT                       UNIQUE,
  "hash_on"               TEXT,
  "hash_fallback"         TEXT,
  "hash_on_header"        TEXT,
  "hash_fallback_header"  TEXT,
  "hash_on_cookie"        TEXT,
  "hash_on_cookie_path"   TEXT,
  "slots"                 INTEGER                    NOT NULL,
  "healthchecks"          JSONB,
  "tags"                  TEXT[]
);
CREATE INDEX IF NOT EXISTS "upstreams_tags_idx" ON "upstreams" USING GIN ("tags");
DROP TRIGGER IF EXISTS "upstreams_sync_tags_trigger" ON "upstreams";
CREATE TRIGGER "upstreams_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "upstreams"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "targets" (
  "id"           UUID                       PRIMARY KEY,
  "created_at"   TIMESTAMP WITH TIME ZONE   DEFAULT (CURRENT_TIMESTAMP(3) AT TIME ZONE 'UTC'),
  "upstream_id"  UUID                       REFERENCES "upstreams" ("id") ON DELETE CASCADE,
  "target"       TEXT                       NOT NULL,
  "weight"       INTEGER                    NOT NULL,
  "tags"         TEXT[]
);
CREATE INDEX IF NOT EXISTS "targets_target_idx"      ON "targets" ("target");
CREATE INDEX IF NOT EXISTS "targets_upstream_id_idx" ON "targets" ("upstream_id");
CREATE INDEX IF NOT EXISTS "targets_tags_idx"        ON "targets" USING GIN ("tags");
DROP TRIGGER IF EXISTS "targets_sync_tags_trigger" ON "targets";
CREATE TRIGGER "targets_sync_tags_trigger"
  AFTER INSERT OR UPDATE OF "tags" OR DELETE ON "targets"
  FOR EACH ROW EXECUTE PROCEDURE sync_tags();

CREATE TABLE IF NOT EXISTS "ttls" (
  "primary_key_value"   TEXT                       NOT NULL,
  "primary_uuid_value"  UUID,
  "table_name"          TEXT                       NOT NULL,
  "primary_key_name"    TEXT                       NOT NULL,
  "expire_at"           TIMESTAMP WITHOUT TIME ZONE NOT NULL,
  PRIMARY KEY ("primary_key_value", "table_name")
);
CREATE INDEX IF NOT EXISTS "ttls_primary_uuid_value_idx" ON "ttls" ("primary_uuid_value");

CREATE TABLE IF NOT EXISTS "cluster_ca" (
  "pk"    BOOLEAN  NOT NULL PRIMARY KEY CHECK ("pk" = true),
  "key"   TEXT     NOT NULL,
  "cert"  TEXT     NOT NULL
);
