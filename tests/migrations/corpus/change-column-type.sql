-- case: int-to-bigint
-- expect: change-column-type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ALTER COLUMN quantity TYPE bigint;

-- case: shrink-varchar
-- expect: change-column-type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ALTER COLUMN name TYPE varchar(60);

-- case: text-to-bounded-varchar
-- expect: change-column-type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ALTER COLUMN email TYPE varchar(200);

-- case: numeric-scale-change
-- expect: change-column-type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ALTER COLUMN balance TYPE numeric(14, 4);

-- case: using-expression
-- expect: change-column-type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ALTER COLUMN status TYPE text USING upper(status);

-- case: timestamp-to-timestamptz
-- expect: change-column-type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz;

-- case: unknown-current-type
-- expect: change-column-type
-- settings: schema=none
-- pg: skip turnout assumes a rewrite because it cannot see the column's type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ALTER COLUMN name TYPE text;

-- case: set-data-type-spelling
-- expect: change-column-type
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE payments ALTER COLUMN amount SET DATA TYPE double precision;

-- case: varchar-to-text
-- expect: none
-- note: squawk reports every type change; turnout knows varchar(100) -> text is binary-coercible
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ALTER COLUMN name TYPE text;

-- case: widen-varchar
-- expect: none
-- note: squawk reports every type change; turnout knows widening varchar needs no rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ALTER COLUMN name TYPE varchar(200);

-- case: widen-numeric-precision
-- expect: none
-- note: squawk reports every type change; turnout knows numeric(10,2) -> numeric(14,2) needs no rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);

-- case: numeric-to-unconstrained
-- expect: none
-- note: squawk reports every type change; turnout knows dropping numeric's typmod needs no rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ALTER COLUMN total TYPE numeric;

-- case: text-to-unbounded-varchar
-- expect: none
-- note: squawk reports every type change; turnout knows text -> varchar needs no rewrite
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE events ALTER COLUMN kind TYPE varchar;

-- case: new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration from changing-column-type
CREATE TABLE tmp_import (id bigint PRIMARY KEY, qty integer);
ALTER TABLE tmp_import ALTER COLUMN qty TYPE bigint;

-- case: type-learned-earlier-in-migration
-- expect: none
-- note: squawk reports every type change; turnout learned ref's type from the ADD COLUMN above
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN ref varchar(10);
ALTER TABLE orders ALTER COLUMN ref TYPE varchar(40);
