-- case: unique-constraint
-- expect: unique-without-index
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);

-- case: primary-key
-- expect: unique-without-index
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE imports ADD PRIMARY KEY (code);

-- case: unique-column
-- expect: unique-without-index
-- note: squawk does not check UNIQUE declared on the added column itself
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN handle text UNIQUE;

-- case: exclusion-constraint
-- expect: unique-without-index
-- note: squawk does not check EXCLUDE constraints, which build an index the same way
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE events ADD CONSTRAINT events_no_dup EXCLUDE USING btree (id WITH =);

-- case: unique-using-index
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;

-- case: primary-key-using-index
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE UNIQUE INDEX CONCURRENTLY imports_code_key ON imports (code);
ALTER TABLE imports ADD CONSTRAINT imports_pkey PRIMARY KEY USING INDEX imports_code_key;

-- case: unique-on-new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE coupons (id bigint PRIMARY KEY, code text);
ALTER TABLE coupons ADD CONSTRAINT coupons_code_key UNIQUE (code);

-- case: unique-in-create-table
-- expect: none
CREATE TABLE vouchers (id bigint PRIMARY KEY, code text UNIQUE);
