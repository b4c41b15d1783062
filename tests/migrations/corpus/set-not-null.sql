-- case: plain-set-not-null
-- expect: set-not-null
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ALTER COLUMN email SET NOT NULL;

-- case: check-never-validated
-- expect: set-not-null
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;

-- case: validated-check-before-pg12
-- expect: set-not-null
-- settings: postgres_version=11
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;

-- case: check-on-another-column
-- expect: set-not-null
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD CONSTRAINT users_nick_nn CHECK (nickname IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_nick_nn;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;

-- case: primary-key-using-index-on-nullable-column
-- expect: set-not-null
-- note: squawk does not know PRIMARY KEY USING INDEX makes a nullable column NOT NULL with a scan
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE UNIQUE INDEX CONCURRENTLY imports_payload_key ON imports (payload);
ALTER TABLE imports ADD CONSTRAINT imports_pkey PRIMARY KEY USING INDEX imports_payload_key;

-- case: validated-check-recipe
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_email_nn;

-- case: validated-check-with-more-conditions
-- expect: none
-- note: squawk only recognises a CHECK that is exactly "col IS NOT NULL"
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ADD CONSTRAINT users_email_ok CHECK (email IS NOT NULL AND email <> '') NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_email_ok;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;

-- case: column-already-not-null
-- expect: none
-- note: squawk does not know users.name is already NOT NULL (from the schema), so it expects a scan
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users ALTER COLUMN name SET NOT NULL;

-- case: new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE tags (id bigint PRIMARY KEY, label text);
ALTER TABLE tags ALTER COLUMN label SET NOT NULL;
