-- case: check-constraint
-- expect: constraint-not-valid
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD CONSTRAINT orders_quantity_positive CHECK (quantity > 0);

-- case: foreign-key
-- expect: constraint-not-valid
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);

-- case: unnamed-foreign-key
-- expect: constraint-not-valid
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE payments ADD FOREIGN KEY (order_id) REFERENCES orders (id);

-- case: column-with-check
-- expect: constraint-not-valid
-- note: squawk does not see that an inline CHECK on ADD COLUMN is validated against every row
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD COLUMN discount numeric CHECK (discount >= 0);

-- case: check-not-valid
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD CONSTRAINT orders_quantity_positive CHECK (quantity > 0) NOT VALID;

-- case: foreign-key-not-valid
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;

-- case: not-valid-then-validate
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;

-- case: foreign-key-from-new-table
-- expect: none
-- note: squawk reports foreign keys added to a table created in the same migration
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE TABLE refunds (id bigint PRIMARY KEY, payment_id bigint);
ALTER TABLE refunds ADD CONSTRAINT refunds_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id);

-- case: inline-foreign-key-in-create-table
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
CREATE TABLE shipments (id bigint PRIMARY KEY, order_id bigint REFERENCES orders (id));
