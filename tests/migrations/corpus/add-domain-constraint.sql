-- case: add-checked
-- expect: add-domain-constraint
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER DOMAIN positive_amount ADD CONSTRAINT positive CHECK (VALUE > 0);

-- case: validate
-- expect: add-domain-constraint
-- note: squawk accepts NOT VALID followed by VALIDATE, but VALIDATE on a domain takes SHARE on every table using it
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER DOMAIN positive_amount ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID;
ALTER DOMAIN positive_amount VALIDATE CONSTRAINT positive;

-- case: not-valid-only
-- expect: none
-- note: squawk bans every ALTER DOMAIN ADD CONSTRAINT; with NOT VALID it locks nothing
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER DOMAIN positive_amount ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID;

-- case: table-check-instead
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE ledger ADD CONSTRAINT ledger_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE ledger VALIDATE CONSTRAINT ledger_amount_positive;

-- case: new-domain-with-constraint
-- expect: none
-- note: squawk bans CREATE DOMAIN with a constraint; a new domain locks nothing
CREATE DOMAIN percent AS integer CHECK (VALUE BETWEEN 0 AND 100);
