-- case: drop-not-null
-- expect: drop-not-null
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ALTER COLUMN phone DROP NOT NULL;

-- case: two-columns
-- expect: drop-not-null
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ALTER COLUMN phone DROP NOT NULL, ALTER COLUMN name DROP NOT NULL;

-- case: suppressed-with-reason
-- expect: none
-- note: squawk's own ignore comment would be needed here; turnout reads its suppression
SET lock_timeout = '2s'; SET statement_timeout = '30s';
-- turnout: allow drop-not-null because every running release reads phone as optional
ALTER TABLE users ALTER COLUMN phone DROP NOT NULL;

-- case: new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE contacts (id bigint PRIMARY KEY, phone text NOT NULL);
ALTER TABLE contacts ALTER COLUMN phone DROP NOT NULL;

-- case: set-default
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ALTER COLUMN score SET DEFAULT 1;
