-- case: clock-timestamp-default
-- expect: add-column-rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();

-- case: gen-random-uuid-default
-- expect: add-column-rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();

-- case: random-default
-- expect: add-column-rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE events ADD COLUMN sample double precision DEFAULT random();

-- case: bigserial-column
-- expect: add-column-rewrite
-- note: squawk does not treat an added serial column (filled from a sequence) as a rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE events ADD COLUMN seq bigserial;

-- case: identity-column
-- expect: add-column-rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

-- case: stored-generated-column
-- expect: add-column-rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS ((total * 100)::bigint) STORED;

-- case: constant-default-before-pg11
-- expect: add-column-rewrite
-- settings: postgres_version=10
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN tier text DEFAULT 'free';

-- case: volatile-user-function-default
-- expect: add-column-rewrite
-- note: squawk does not follow CREATE FUNCTION, so it cannot tell this function is VOLATILE
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE FUNCTION make_code() RETURNS text LANGUAGE sql AS $$ SELECT md5(random()::text) $$;
ALTER TABLE accounts ADD COLUMN code text DEFAULT make_code();

-- case: second-column-volatile
-- expect: add-column-rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN a text, ADD COLUMN b timestamptz DEFAULT clock_timestamp();

-- case: now-default
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN seen_at timestamptz DEFAULT now();

-- case: constant-default-not-null
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN tier text NOT NULL DEFAULT 'free';

-- case: current-timestamp-default
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN updated_at timestamptz DEFAULT CURRENT_TIMESTAMP;

-- case: jsonb-literal-default
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE events ADD COLUMN meta jsonb NOT NULL DEFAULT '{}'::jsonb;

-- case: stable-user-function-default
-- expect: none
-- note: squawk does not follow CREATE FUNCTION, so it assumes the worst about default_region()
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE FUNCTION default_region() RETURNS integer LANGUAGE sql STABLE AS $$ SELECT 1 $$;
ALTER TABLE accounts ADD COLUMN home_region integer DEFAULT default_region();

-- case: set-volatile-default-afterwards
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN token uuid;
ALTER TABLE accounts ALTER COLUMN token SET DEFAULT gen_random_uuid();

-- case: volatile-default-on-new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE api_keys (id bigint PRIMARY KEY, label text);
ALTER TABLE api_keys ADD COLUMN created timestamptz DEFAULT clock_timestamp();
