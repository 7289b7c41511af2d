-- Kong 2.0: new routes default to path_handling v0; the teardown drops plugins.run_on and the
-- service-mesh cluster_ca table.

-- +up
ALTER TABLE IF EXISTS ONLY "routes" ALTER COLUMN "path_handling" SET DEFAULT 'v0';

-- +teardown
ALTER TABLE IF EXISTS ONLY "plugins" DROP COLUMN IF EXISTS "run_on";
DROP TABLE IF EXISTS "cluster_ca";
