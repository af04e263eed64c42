-- Ingest counters: bot batches filtered, requests rate-limited; per UTC day
-- (days since the Unix epoch).
CREATE TABLE IF NOT EXISTS ingest_stats (
  day TEXT NOT NULL,
  kind TEXT NOT NULL,
  n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, kind)
);
