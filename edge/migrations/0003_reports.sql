-- Reporting store: one row per stored event, written by the Profile Durable
-- Object after each append (idempotent by event_id; an absorbing profile
-- rewrites the rows of the events it takes over, so profile_id follows merges).
-- Reports read a date range of it and run the core's report functions.
CREATE TABLE IF NOT EXISTS touches (
  event_id TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  step TEXT NOT NULL,            -- event kind, or checkout:<step>
  channel TEXT,                  -- source of the touch, when it has one
  source TEXT,
  campaign TEXT,
  ad TEXT,
  organic INTEGER NOT NULL DEFAULT 0,
  value REAL,                    -- orders
  currency TEXT
);
CREATE INDEX IF NOT EXISTS touches_by_time ON touches (time);
CREATE INDEX IF NOT EXISTS touches_by_profile ON touches (profile_id, time);

-- Ad spend supplied through POST /v1/spend: one amount per campaign, day and
-- currency (posting the same day again replaces it).
CREATE TABLE IF NOT EXISTS spend (
  campaign TEXT NOT NULL,
  day INTEGER NOT NULL,          -- ms of the day's start, UTC
  currency TEXT NOT NULL,
  amount REAL NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (campaign, day, currency)
);
