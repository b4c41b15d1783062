-- case: rename-table
-- expect: rename-table
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE customers RENAME TO clients;

-- case: rename-if-exists
-- expect: rename-table
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE IF EXISTS legacy_sessions RENAME TO sessions_old;

-- case: rename-with-compatibility-view
-- expect: none
-- note: squawk does not see that a view with the old name keeps the old release's queries working
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE customers RENAME TO clients;
CREATE VIEW customers AS SELECT * FROM clients;
COMMIT;

-- case: rename-new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE draft_reports (id bigint PRIMARY KEY);
ALTER TABLE draft_reports RENAME TO reports;

-- case: create-new-table
-- expect: none
CREATE TABLE clients (id bigint PRIMARY KEY, name text);
