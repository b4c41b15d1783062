-- case: vacuum-full
-- expect: table-rewrite
-- note: squawk has no rule for commands that rewrite a table by design
SET lock_timeout = '2s'; SET statement_timeout = '30s';
VACUUM FULL events;

-- case: cluster
-- expect: table-rewrite
-- note: squawk has no rule for commands that rewrite a table by design
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CLUSTER orders USING orders_created_at_idx;

-- case: set-unlogged
-- expect: table-rewrite
-- note: squawk has no rule for commands that rewrite a table by design
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE events SET UNLOGGED;

-- case: vacuum-analyze
-- expect: none
VACUUM (ANALYZE) events;

-- case: analyze
-- expect: none
ANALYZE orders;

-- case: cluster-new-table
-- expect: none
CREATE TABLE rollups (id bigint PRIMARY KEY, day date);
CREATE INDEX rollups_day_idx ON rollups (day);
CLUSTER rollups USING rollups_day_idx;

-- case: fillfactor
-- expect: none
ALTER TABLE events SET (fillfactor = 90);
