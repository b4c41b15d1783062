-- case: drop-column
-- expect: drop-column
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users DROP COLUMN legacy_flags;

-- case: two-columns
-- expect: drop-column
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users DROP COLUMN IF EXISTS legacy_flags, DROP COLUMN nickname;

-- case: declared-expand
-- expect: drop-column
-- turnout: phase=expand
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users DROP COLUMN legacy_flags;

-- case: contract-migration
-- expect: none
-- note: turnout's deploy gate holds contract migrations until no older release runs; squawk cannot know
-- turnout: phase=contract
SET lock_timeout = '2s'; SET statement_timeout = '30s';
ALTER TABLE users DROP COLUMN legacy_flags;

-- case: column-of-new-table
-- expect: none
-- note: squawk does not exempt tables created in the same migration
CREATE TABLE drafts (id bigint PRIMARY KEY, scratch text);
ALTER TABLE drafts DROP COLUMN scratch;

-- case: suppressed-with-reason
-- expect: none
-- note: squawk's own ignore comment would be needed here; turnout reads its suppression
SET lock_timeout = '2s'; SET statement_timeout = '30s';
-- turnout: allow drop-column because no release has read legacy_flags since v12
ALTER TABLE users DROP COLUMN legacy_flags;
