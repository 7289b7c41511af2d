-- Kong 3.2: plugin instances can be named (plugins.instance_name, unique per workspace).

-- +up
ALTER TABLE IF EXISTS ONLY "plugins" ADD COLUMN IF NOT EXISTS "instance_name" TEXT;

DO $$
BEGIN
  ALTER TABLE "plugins" ADD CONSTRAINT "plugins_ws_id_instance_name_unique" UNIQUE ("ws_id", "instance_name");
EXCEPTION WHEN duplicate_table OR duplicate_object THEN
  -- already there: accept the existing state
END;
$$;
