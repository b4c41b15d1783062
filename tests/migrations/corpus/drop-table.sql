-- case: drop-table
-- expect: drop-table
SET lock_timeout = '2s'; SET statement_timeout = '30s';
DROP TABLE legacy_sessions;

-- case: two-tables
-- expect: drop-table
SET lock_timeout = '2s'; SET statement_timeout = '30s';
DROP TABLE IF EXISTS legacy_sessions, staging_accounts;

-- case: contract-migration
-- expect: none
-- note: turnout's deploy gate holds contract migrations until no older release runs; squawk cannot know
-- turnout: phase=contract
SET lock_timeout = '2s'; SET statement_timeout = '30s';
DROP TABLE legacy_sessions;

-- case: table-created-in-migration
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE scratch_import (id bigint PRIMARY KEY);
DROP TABLE scratch_import;

-- case: drop-view
-- expect: drop-table
SET lock_timeout = '2s'; SET statement_timeout = '30s';
DROP VIEW payment_ids;

-- case: drop-view-created-in-migration
-- expect: none
-- note: squawk does not exempt views created in the same migration
CREATE VIEW recent_orders AS SELECT id FROM orders WHERE created_at > now() - interval '1 day';
DROP VIEW recent_orders;
