-- case: wrong-rule
-- expect: unused-suppression
-- note: squawk reads its own squawk-ignore comments, not turnout's
SET lock_timeout = '2s'; SET statement_timeout = '30s';
-- turnout: allow rename-column because the old name is unused
ALTER TABLE accounts ADD COLUMN note2 text;

-- case: nothing-after-it
-- expect: unused-suppression
-- note: squawk reads its own squawk-ignore comments, not turnout's
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE accounts ADD COLUMN note2 text;
-- turnout: allow drop-column because nothing reads it

-- case: used
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
-- turnout: allow rename-column because only the reporting job reads users and it is paused
ALTER TABLE users RENAME COLUMN name TO full_name;

-- case: trailing-comment
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users RENAME COLUMN name TO full_name; -- turnout: allow rename-column because the reporting job is paused

-- case: above-multi-line-statement
-- expect: none
SET lock_timeout = '2s'; SET statement_timeout = '30s';
-- turnout: allow create-index-concurrently because events is tiny and written once a day
CREATE INDEX events_at_idx
    ON events (at);
