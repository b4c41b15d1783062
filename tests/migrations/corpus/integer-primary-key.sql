-- case: serial
-- expect: integer-primary-key
-- note: squawk reports every integer column (prefer-bigint-over-int), not just keys
CREATE TABLE invoices (id serial PRIMARY KEY, total numeric(12, 2));

-- case: integer
-- expect: integer-primary-key
CREATE TABLE tickets (id integer PRIMARY KEY);

-- case: table-constraint
-- expect: integer-primary-key
CREATE TABLE seats (id int GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (id));

-- case: smallserial
-- expect: integer-primary-key
CREATE TABLE countries (id smallserial PRIMARY KEY, name text);

-- case: added-serial-key
-- expect: integer-primary-key, add-column-rewrite, unique-without-index
-- note: squawk does not check PRIMARY KEY declared on the added column itself
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE imports ADD COLUMN id serial PRIMARY KEY;

-- case: bigint-identity
-- expect: none
CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric(12, 2));

-- case: bigserial
-- expect: none
CREATE TABLE tickets (id bigserial PRIMARY KEY);

-- case: uuid
-- expect: none
CREATE TABLE sessions (id uuid PRIMARY KEY DEFAULT gen_random_uuid());

-- case: integer-non-key
-- expect: none
-- note: squawk reports every integer column (prefer-bigint-over-int), not just keys
CREATE TABLE counters (id bigint PRIMARY KEY, hits integer NOT NULL DEFAULT 0);

-- case: composite-bigint
-- expect: none
CREATE TABLE memberships (account_id bigint, user_id bigint, PRIMARY KEY (account_id, user_id));
