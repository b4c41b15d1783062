-- case: rename-column
-- expect: rename-column
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users RENAME COLUMN name TO full_name;

-- case: rename-without-column-keyword
-- expect: rename-column
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users RENAME nickname TO handle;

-- case: rename-if-exists
-- expect: rename-column
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE IF EXISTS users RENAME COLUMN phone TO phone_number;

-- case: add-new-column-instead
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD COLUMN full_name text;

-- case: rename-on-new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE drafts (id bigint PRIMARY KEY, titel text);
ALTER TABLE drafts RENAME COLUMN titel TO title;

-- case: rename-constraint
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users RENAME CONSTRAINT users_pkey TO users_pk;

-- case: rename-index
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER INDEX orders_status_idx RENAME TO orders_by_status_idx;
