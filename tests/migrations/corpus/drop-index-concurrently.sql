-- case: plain-drop
-- expect: drop-index-concurrently
SET lock_timeout = '2s'; SET statement_timeout = '30s';
DROP INDEX orders_created_at_idx;

-- case: if-exists
-- expect: drop-index-concurrently
SET lock_timeout = '2s'; SET statement_timeout = '30s';
DROP INDEX IF EXISTS orders_status_idx;

-- case: two-indexes
-- expect: drop-index-concurrently
SET lock_timeout = '2s'; SET statement_timeout = '30s';
DROP INDEX orders_created_at_idx, orders_status_idx;

-- case: concurrently
-- expect: none
DROP INDEX CONCURRENTLY orders_created_at_idx;

-- case: concurrently-if-exists
-- expect: none
DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;

-- case: index-of-new-table
-- expect: none
-- note: squawk does not know the index belongs to a table created in the same migration
CREATE TABLE drafts (id bigint PRIMARY KEY, title text);
CREATE INDEX drafts_title_idx ON drafts (title);
DROP INDEX drafts_title_idx;
