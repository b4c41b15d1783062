-- case: only-lock-timeout
-- expect: statement-timeout
SET lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN channel text;

-- case: zero-statement-timeout
-- expect: statement-timeout
-- note: squawk counts SET statement_timeout = 0 (which disables the timeout) as set
SET lock_timeout = '2s';
SET statement_timeout = 0;
ALTER TABLE orders ADD COLUMN channel text;

-- case: reset-all
-- expect: lock-timeout, statement-timeout
-- note: squawk does not follow RESET ALL
SET lock_timeout = '2s';
SET statement_timeout = '30s';
RESET ALL;
ALTER TABLE orders ADD COLUMN channel text;

-- case: both-set
-- expect: none
SET lock_timeout = '2s';
SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN channel text;

-- case: set-config-statement-timeout
-- expect: none
-- note: squawk does not recognise set_config() as setting the timeouts
SET lock_timeout = '2s';
SELECT set_config('statement_timeout', '30s', false);
ALTER TABLE orders ADD COLUMN channel text;

-- case: runner-sets-statement-timeout
-- expect: none
-- settings: statement_timeout_required=false
-- note: turnout was told the migration runner sets statement_timeout (squawk has no such setting)
SET lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN channel text;
