-- case: no-timeouts
-- expect: lock-timeout, statement-timeout
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: only-statement-timeout
-- expect: lock-timeout
SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: zero-lock-timeout
-- expect: lock-timeout
-- note: squawk counts SET lock_timeout = 0 (which disables the timeout) as set
SET statement_timeout = '30s';
SET lock_timeout = 0;
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: local-timeout-expired
-- expect: lock-timeout
-- note: squawk does not end a SET LOCAL at the COMMIT of its transaction
SET statement_timeout = '30s';
BEGIN;
SET LOCAL lock_timeout = '2s';
COMMIT;
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: reset-lock-timeout
-- expect: lock-timeout
-- note: squawk does not follow RESET lock_timeout
SET statement_timeout = '30s';
SET lock_timeout = '2s';
RESET lock_timeout;
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: foreign-key-from-new-table
-- expect: lock-timeout
-- note: squawk does not see that a new table's foreign key locks the referenced table against writes
SET statement_timeout = '30s';
CREATE TABLE notes (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts (id));

-- case: drop-index-without-timeout
-- expect: drop-index-concurrently, lock-timeout
SET statement_timeout = '30s';
DROP INDEX orders_status_idx;

-- case: both-set
-- expect: none
SET lock_timeout = '2s';
SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: set-config
-- expect: none
-- note: squawk does not recognise set_config() as setting the timeouts
SELECT set_config('lock_timeout', '2s', false), set_config('statement_timeout', '30s', false);
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: concurrently-needs-no-timeout
-- expect: none
-- note: squawk asks for timeouts before CREATE INDEX CONCURRENTLY, whose SHARE UPDATE EXCLUSIVE lock blocks no reads or writes
CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);

-- case: runner-sets-timeouts
-- expect: none
-- settings: lock_timeout_required=false statement_timeout_required=false
-- note: turnout was told the migration runner sets the timeouts (squawk has no such setting)
ALTER TABLE accounts ADD COLUMN nickname text;

-- case: new-table-only
-- expect: none
CREATE TABLE feature_flags (id bigint PRIMARY KEY, name text NOT NULL);

-- case: set-local-in-transaction
-- expect: none
BEGIN;
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN nickname text;
COMMIT;

-- case: set-to-syntax
-- expect: none
SET SESSION lock_timeout TO '2s';
SET statement_timeout TO 30000;
ALTER TABLE accounts ADD COLUMN nickname text;
