-- Kong 1.5: routes.path_handling (existing routes keep the 1.x behaviour, v1).

-- +up
ALTER TABLE IF EXISTS ONLY "routes" ADD COLUMN IF NOT EXISTS "path_handling" TEXT DEFAULT 'v1';
