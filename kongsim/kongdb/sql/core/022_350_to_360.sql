-- Kong 3.6: data planes report their certificate details.

-- +up
ALTER TABLE IF EXISTS ONLY "clustering_data_planes" ADD COLUMN IF NOT EXISTS "cert_details" JSONB;
