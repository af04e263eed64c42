-- Intent signals and their webhook deliveries (one row per signal and URL).
CREATE TABLE IF NOT EXISTS signals (
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  body TEXT NOT NULL,
  emitted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_by_time ON signals (emitted_at);
CREATE TABLE IF NOT EXISTS signal_deliveries (
  signal_id TEXT NOT NULL,
  url TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER,
  last_error TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (signal_id, url)
);
CREATE INDEX IF NOT EXISTS signal_deliveries_by_status ON signal_deliveries (status);
