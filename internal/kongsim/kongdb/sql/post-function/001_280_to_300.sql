-- Kong 3.0 removes config.functions: its code moves to config.access.

-- +up
UPDATE "plugins"
   SET "config" = ("config" - 'functions')
                  || jsonb_build_object('access', COALESCE("config" -> 'access', '[]'::jsonb) || COALESCE("config" -> 'functions', '[]'::jsonb))
 WHERE "name" = 'post-function' AND "config" ? 'functions';
