-- case: begin-twice
-- expect: transaction-nesting
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN note2 text;
BEGIN;
ALTER TABLE accounts ADD COLUMN tag text;
COMMIT;

-- case: begin-in-runner-transaction
-- expect: transaction-nesting
-- settings: assume_in_transaction=true
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN note2 text;
COMMIT;

-- case: commit-of-runner-transaction
-- expect: transaction-nesting
-- settings: assume_in_transaction=true
-- note: squawk only reports BEGIN/COMMIT pairs, not a lone COMMIT that ends the runner's transaction
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN note2 text;
COMMIT;
ALTER TABLE events ADD COLUMN tag text;

-- case: sequential-transactions
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN note2 text;
COMMIT;
BEGIN;
ALTER TABLE events ADD COLUMN tag text;
COMMIT;

-- case: runner-owns-transaction
-- expect: none
-- settings: assume_in_transaction=true
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN note2 text;

-- case: start-transaction
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
START TRANSACTION;
ALTER TABLE accounts ADD COLUMN note2 text;
COMMIT;
