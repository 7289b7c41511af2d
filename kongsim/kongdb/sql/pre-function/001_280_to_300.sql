-- Kong 3.0 removes config.functions: up copies its code to config.access (up_f), and the
-- teardown removes config.functions (kong/plugins/pre-function/migrations/_001_280_to_300.lua).

-- +up
UPDATE "plugins"
   SET "config" = "config" || jsonb_build_object('access', "config" -> 'functions')
 WHERE "name" = 'pre-function' AND jsonb_typeof("config" -> 'functions') = 'array' AND jsonb_array_length("config" -> 'functions') > 0;

-- +teardown
UPDATE "plugins"
   SET "config" = "config" - 'functions'
 WHERE "name" = 'pre-function' AND jsonb_typeof("config" -> 'functions') = 'array' AND jsonb_array_length("config" -> 'functions') > 0;
