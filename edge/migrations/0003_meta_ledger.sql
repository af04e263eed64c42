-- Conversions API ledger: Meta does not deduplicate business-messaging events,
-- so each event id is recorded before it is sent and never sent twice.
CREATE TABLE IF NOT EXISTS capi_events (
  event_id TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER,
  last_error TEXT,
  updated_at INTEGER NOT NULL
);

-- A WhatsApp template nudge is a delivery of its signal too (url
-- `whatsapp:<template>`); its Cloud API request is kept for re-sends.
ALTER TABLE signal_deliveries ADD COLUMN nudge TEXT;
