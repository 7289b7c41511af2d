-- Kong 2.7: services can be disabled.

-- +up
ALTER TABLE IF EXISTS ONLY "services" ADD COLUMN IF NOT EXISTS "enabled" BOOLEAN DEFAULT true;
