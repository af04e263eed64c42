-- Predicted purchase intent and friction (edge/src/predict.rs): one row per
-- profile, upserted by its Profile Durable Object after each append or absorb.
-- A converted profile's features describe its journey before the first order.
-- Reads leave out merged-away profiles (`merges`); erasure deletes the rows.
CREATE TABLE IF NOT EXISTS predictions (
  profile_id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL,
  converted INTEGER NOT NULL,    -- 1 once an order is on the timeline
  first_time INTEGER NOT NULL,   -- first event, ms
  last_time INTEGER NOT NULL,    -- last event before the first order, ms
  events INTEGER NOT NULL,       -- events before the first order
  features TEXT NOT NULL,        -- JSON array in the core's feature order
  friction TEXT NOT NULL,        -- JSON friction summary
  score REAL NOT NULL,           -- at the last update, with the model then cached
  reasons TEXT NOT NULL,         -- JSON array of strings
  model TEXT NOT NULL,           -- `default` or `trained:<ms>`
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_by_site ON predictions (site_id, converted, last_time);

-- The latest training run per site (cron every 5 minutes, or
-- POST /v1/model/train): the model, or "not enough data" with the counts.
CREATE TABLE IF NOT EXISTS models (
  site_id TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  trained_at INTEGER NOT NULL
);
