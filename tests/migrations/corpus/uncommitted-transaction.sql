-- case: begin-without-commit
-- expect: uncommitted-transaction
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN note2 text;

-- case: second-transaction-open
-- expect: uncommitted-transaction
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN note2 text;
COMMIT;
BEGIN;
ALTER TABLE events ADD COLUMN tag text;

-- case: committed
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN note2 text;
COMMIT;

-- case: rolled-back
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE accounts ADD COLUMN note2 text;
ROLLBACK;

-- case: end-keyword
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
START TRANSACTION;
ALTER TABLE accounts ADD COLUMN note2 text;
END;
