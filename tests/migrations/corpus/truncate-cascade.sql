-- case: truncate-cascade
-- expect: truncate-cascade
SET lock_timeout = '2s'; SET statement_timeout = '30s';
TRUNCATE accounts CASCADE;

-- case: several-tables
-- expect: truncate-cascade
SET lock_timeout = '2s'; SET statement_timeout = '30s';
TRUNCATE TABLE staging_accounts, legacy_sessions CASCADE;

-- case: truncate-restrict
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
TRUNCATE staging_accounts RESTRICT;

-- case: plain-truncate
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
TRUNCATE staging_accounts;

-- case: delete-old-rows
-- expect: none
DELETE FROM staging_accounts WHERE imported_at < now() - interval '30 days';
