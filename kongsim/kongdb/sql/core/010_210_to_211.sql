-- Kong 2.1.1: empty for PostgreSQL (it once held a Cassandra-only step); kept so installations
-- record it, as Kong does.

-- +up
SELECT 1;
