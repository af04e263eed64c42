-- Cross-profile index kept by the Journey Durable Objects: which visitors
-- exist, when they were seen, how many events they have. Timelines themselves
-- live in each visitor's Durable Object.
CREATE TABLE IF NOT EXISTS visitors (
  visitor_id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  events INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS visitors_by_last_seen ON visitors (last_seen);
