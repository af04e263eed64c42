-- The identity directory: every identity key (v:<visitor_id>, wa:<bsuid or
-- wa_id>, ph:<sha256>, em:<sha256>, order:<id>, ref:<token>) belongs to exactly
-- one profile. A profile exists while it has at least one identity.
CREATE TABLE IF NOT EXISTS identities (
  identity TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL,
  linked_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS identities_by_profile ON identities (profile_id);

-- Profiles merged away, and the (older) profile each was merged into. A loser
-- never wins again, so the records form chains that end in a live profile.
CREATE TABLE IF NOT EXISTS merges (
  loser TEXT PRIMARY KEY,
  winner TEXT NOT NULL,
  merged_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS merges_by_winner ON merges (winner);
