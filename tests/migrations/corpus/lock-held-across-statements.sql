-- case: validate-in-same-transaction
-- expect: lock-held-across-statements
-- note: squawk reports this as constraint-missing-not-valid (VALIDATE in the transaction that added it)
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
COMMIT;

-- case: two-tables-in-one-transaction
-- expect: lock-held-across-statements
-- note: squawk has no rule for a transaction that holds one table's lock while waiting for another's
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN flag text;
ALTER TABLE orders ADD COLUMN flag text;
COMMIT;

-- case: backfill-after-alter
-- expect: lock-held-across-statements
-- note: squawk has no rule for a backfill run while the transaction holds ACCESS EXCLUSIVE
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE users ADD COLUMN display_name text;
UPDATE users SET display_name = name;
COMMIT;

-- case: runner-transaction
-- expect: lock-held-across-statements
-- settings: assume_in_transaction=true
-- note: squawk has no rule for a transaction that holds one table's lock while waiting for another's
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN region text;
ALTER TABLE payments ADD COLUMN region text;

-- case: explicit-lock-then-update
-- expect: lock-held-across-statements
-- note: squawk has no rule for a backfill run while the transaction holds ACCESS EXCLUSIVE
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;
UPDATE accounts SET note = 'migrated' WHERE note IS NULL;
COMMIT;

-- case: same-table-catalog-changes
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN flag text;
ALTER TABLE accounts ADD COLUMN flag_set_at timestamptz;
ALTER TABLE accounts ALTER COLUMN flag SET DEFAULT 'none';
COMMIT;

-- case: separate-transactions
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
COMMIT;
BEGIN;
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
COMMIT;

-- case: new-table-work-first
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
CREATE TABLE regions (id bigint PRIMARY KEY, name text);
INSERT INTO regions VALUES (1, 'eu'), (2, 'us');
ALTER TABLE accounts ADD COLUMN home text;
COMMIT;

-- case: non-blocking-lock-first
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE events SET (fillfactor = 90);
UPDATE events SET kind = 'view' WHERE id = 1;
COMMIT;

-- case: autocommit-statements
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD COLUMN display_name text;
UPDATE users SET display_name = name WHERE id <= 100;
