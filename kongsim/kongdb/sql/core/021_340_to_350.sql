-- Kong 3.5: data planes report labels.

-- +up
ALTER TABLE IF EXISTS ONLY "clustering_data_planes" ADD COLUMN IF NOT EXISTS "labels" JSONB;
