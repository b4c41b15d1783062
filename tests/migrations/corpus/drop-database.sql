-- case: drop-database
-- expect: drop-database
DROP DATABASE IF EXISTS analytics;

-- case: drop-database-force
-- expect: drop-database
DROP DATABASE IF EXISTS analytics WITH (FORCE);

-- case: create-schema
-- expect: none
CREATE SCHEMA IF NOT EXISTS analytics;

-- case: drop-empty-schema
-- expect: none
DROP SCHEMA IF EXISTS analytics_tmp;
