-- The database every corpus case runs against: linted as the [migrations] schema
-- (so turnout knows column types), and loaded into PostgreSQL by the verification
-- tests before each case.
CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name varchar(100) NOT NULL,
    email text,
    note text,
    balance numeric(12, 2) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    legacy_code char(4),
    region_id integer
);
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text,
    name text NOT NULL,
    phone text NOT NULL,
    legacy_flags integer,
    nickname varchar(20),
    score integer NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    account_id bigint,
    user_id bigint,
    quantity integer NOT NULL,
    total numeric(10, 2),
    status text,
    created_at timestamp,
    note varchar(50)
);
CREATE INDEX orders_created_at_idx ON orders (created_at);
CREATE INDEX orders_status_idx ON orders (status);
CREATE TABLE events (id bigint PRIMARY KEY, kind text, payload jsonb, at timestamptz);
CREATE TABLE payments (id bigint PRIMARY KEY, order_id bigint, amount numeric(10, 2));
CREATE TABLE customers (id bigint PRIMARY KEY, name text);
CREATE TABLE legacy_sessions (id bigint PRIMARY KEY, token text);
CREATE TABLE staging_accounts (id bigint PRIMARY KEY, imported_at timestamptz);
CREATE TABLE imports (code text NOT NULL, payload text);
CREATE DOMAIN positive_amount AS numeric;
CREATE TABLE ledger (id bigint PRIMARY KEY, amount positive_amount);
CREATE VIEW payment_ids AS SELECT id FROM payments;

INSERT INTO accounts (name, email, region_id)
    SELECT 'account ' || g, 'a' || g || '@example.com', g % 5 FROM generate_series(1, 200) g;
INSERT INTO users SELECT g, 'u' || g || '@example.com', 'user ' || g, '555-' || g, NULL, 'n' || g, 0
    FROM generate_series(1, 200) g;
INSERT INTO orders SELECT g, g % 200 + 1, g % 200 + 1, g % 7 + 1, g * 1.5, 'new', now(), 'x'
    FROM generate_series(1, 500) g;
INSERT INTO events SELECT g, 'click', '{}', now() FROM generate_series(1, 100) g;
INSERT INTO payments SELECT g, g, g FROM generate_series(1, 100) g;
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g;
INSERT INTO legacy_sessions SELECT g, 't' || g FROM generate_series(1, 10) g;
INSERT INTO staging_accounts SELECT g, now() FROM generate_series(1, 10) g;
INSERT INTO imports SELECT 'code' || g, 'payload' || g FROM generate_series(1, 50) g;
INSERT INTO ledger SELECT g, g FROM generate_series(1, 10) g;
