-- case: plain-index
-- expect: create-index-concurrently
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE INDEX orders_user_idx ON orders (user_id);

-- case: unique-index
-- expect: create-index-concurrently
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE UNIQUE INDEX users_email_idx ON users (email);

-- case: partial-expression-index
-- expect: create-index-concurrently
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE INDEX accounts_lower_email_idx ON accounts (lower(email)) WHERE email IS NOT NULL;

-- case: if-not-exists
-- expect: create-index-concurrently
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE INDEX IF NOT EXISTS events_kind_idx ON events (kind);

-- case: concurrently
-- expect: none
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);

-- case: unique-concurrently
-- expect: none
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);

-- case: index-on-new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE audit_log (id bigint PRIMARY KEY, at timestamptz);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- case: gin-concurrently
-- expect: none
CREATE INDEX CONCURRENTLY events_payload_idx ON events USING gin (payload);
