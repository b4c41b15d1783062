-- case: create-index-in-begin
-- expect: concurrently-in-transaction
-- pg: error 25001
BEGIN;
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
COMMIT;

-- case: runner-transaction
-- expect: concurrently-in-transaction
-- note: squawk 2.70 with --assume-in-transaction does not report CREATE INDEX CONCURRENTLY here
-- settings: assume_in_transaction=true
-- pg: error 25001
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);

-- case: drop-index-in-begin
-- expect: concurrently-in-transaction
-- pg: error 25001
-- note: squawk's rule only covers CREATE INDEX CONCURRENTLY
BEGIN;
DROP INDEX CONCURRENTLY orders_status_idx;
COMMIT;

-- case: reindex-in-begin
-- expect: concurrently-in-transaction
-- pg: error 25001
-- note: squawk's rule only covers CREATE INDEX CONCURRENTLY
BEGIN;
REINDEX INDEX CONCURRENTLY orders_status_idx;
COMMIT;

-- case: outside-transaction
-- expect: none
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);

-- case: after-commit
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
BEGIN;
ALTER TABLE orders ADD COLUMN channel text;
COMMIT;
CREATE INDEX CONCURRENTLY orders_channel_idx ON orders (channel);

-- case: drop-outside-transaction
-- expect: none
DROP INDEX CONCURRENTLY orders_status_idx;

-- case: reindex-outside-transaction
-- expect: none
REINDEX INDEX CONCURRENTLY orders_status_idx;
