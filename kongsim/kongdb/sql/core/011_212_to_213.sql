-- Kong 2.1.3: the unique constraint on workspaces.name already indexes it.

-- +up
DROP INDEX IF EXISTS "workspaces_name_idx";
