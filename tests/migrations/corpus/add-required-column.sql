-- case: not-null-without-default
-- expect: add-required-column
-- pg: error 23502
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN currency text NOT NULL;

-- case: not-null-foreign-key
-- expect: add-required-column
-- pg: error 23502
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL REFERENCES accounts (id);

-- case: primary-key-column
-- expect: add-required-column, unique-without-index
-- pg: error 23502
-- note: squawk does not check PRIMARY KEY declared on the added column itself
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE imports ADD COLUMN id bigint PRIMARY KEY;

-- case: not-null-with-default
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';

-- case: nullable-column
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN currency text;

-- case: new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE quotes (id bigint PRIMARY KEY);
ALTER TABLE quotes ADD COLUMN currency text NOT NULL;

-- case: not-null-integer-default
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN attempts integer NOT NULL DEFAULT 0;
