//! Derived D1 rows a Profile Durable Object owes after an append: the visitor
//! index (`visitors`) and the report touches (`touches`). They are written
//! through an outbox in the Profile's own SQLite, so a kill right after the
//! collector answered only delays them:
//!
//! 1. In the SAME synchronous turn as the event inserts (Durable Object writes
//!    without an `await` between them commit together), the Profile records
//!    what it owes: `visitor_counts` (the visitor's running totals, with a
//!    `version` bumped on each change and the `synced` version D1 has) and one
//!    `pending_touches` row per event.
//! 2. `drain` writes them to D1 right after the answer (`wait_until`), and the
//!    Profile's alarm, set before the answer while anything is pending, drains
//!    again and retries every `OUTBOX_RETRY_MS` until D1 has them.
//!
//! Every D1 write is idempotent, so a drain repeated after a crash (D1
//! written, outbox not yet cleared) changes nothing: the visitor row takes
//! absolute totals (`max` of the counts, `min`/`max` of the times), touches
//! are upserts by `event_id`.

use serde::Deserialize;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use worker::{Env, Result, SqlStorage, SqlStorageValue};

use crate::bindings;
use crate::profile::{self, AppendItem};
use crate::touches;

/// Tables of the outbox (created with the Profile's schema).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS visitor_counts (
  visitor_id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  events INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  synced INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pending_touches (event_id TEXT PRIMARY KEY, profile_id TEXT NOT NULL);
";

/// Tables `/destroy` empties.
pub const TABLES: [&str; 2] = ["visitor_counts", "pending_touches"];

/// A query with one row when anything waits for D1 (for the alarm).
pub const PENDING_SQL: &str = "SELECT 1 FROM pending_touches \
     UNION ALL SELECT 1 FROM visitor_counts WHERE version > synced";

/// Visitor rows written per D1 batch.
const VISITOR_BATCH: usize = 50;
/// Touches read from the outbox per round (written 50 statements a batch).
const TOUCH_BATCH: i64 = 200;
/// Rounds of one drain, so a drain's work is bounded; the alarm does the rest.
const MAX_ROUNDS: usize = 20;

/// Records, in the caller's synchronous turn, that `visitor_id` gained the
/// newly inserted `items`.
pub fn note_visitor(sql: &SqlStorage, visitor_id: &str, items: &[&AppendItem]) -> Result<()> {
    let (Some(first), Some(last), Some(site)) = (
        items.iter().map(|i| i.time).min(),
        items.iter().map(|i| i.time).max(),
        items.first().map(|i| i.site_id.as_str()),
    ) else {
        return Ok(());
    };
    sql.exec(
        "INSERT INTO visitor_counts (visitor_id, site_id, first_seen, last_seen, events) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (visitor_id) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), \
         last_seen = max(last_seen, excluded.last_seen), events = events + excluded.events, version = version + 1",
        vec![
            SqlStorageValue::from(visitor_id),
            site.into(),
            first.into(),
            last.into(),
            (items.len() as i64).into(),
        ],
    )?;
    Ok(())
}

/// Records, in the caller's synchronous turn, visitor totals for absorbed
/// events: each web event counts for the visitor named in its body.
pub fn note_absorbed_visitors(sql: &SqlStorage, inserted: &[&AppendItem]) -> Result<()> {
    #[derive(Deserialize)]
    struct Named {
        visitor_id: Option<String>,
    }
    let mut by_visitor: BTreeMap<String, Vec<&AppendItem>> = BTreeMap::new();
    for item in inserted.iter().filter(|i| i.via == "collect") {
        if let Ok(Named {
            visitor_id: Some(v),
        }) = serde_json::from_str::<Named>(&item.body)
        {
            by_visitor.entry(v).or_default().push(item);
        }
    }
    for (visitor, items) in by_visitor {
        note_visitor(sql, &visitor, &items)?;
    }
    Ok(())
}

/// Records, in the caller's synchronous turn, that the touches of `event_ids`
/// must be (re)written for `profile_id` (one statement for the whole list).
pub fn note_touches<'a>(
    sql: &SqlStorage,
    profile_id: &str,
    event_ids: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let ids: Vec<&str> = event_ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    sql.exec(
        "INSERT INTO pending_touches (event_id, profile_id) SELECT value, ? FROM json_each(?) WHERE true \
         ON CONFLICT (event_id) DO UPDATE SET profile_id = excluded.profile_id",
        vec![
            SqlStorageValue::from(profile_id),
            serde_json::to_string(&ids)?.into(),
        ],
    )?;
    Ok(())
}

/// Whether anything waits for D1.
pub fn pending(sql: &SqlStorage) -> bool {
    #[derive(Deserialize)]
    struct One {}
    sql.exec(&format!("{PENDING_SQL} LIMIT 1"), None)
        .and_then(|c| c.to_array::<One>())
        .map(|r| !r.is_empty())
        .unwrap_or(true)
}

/// One drain at a time per Durable Object instance: concurrent appends would
/// otherwise each read the same pending rows and write them to D1 again. A
/// drain loops until nothing is pending, and its last check runs in the same
/// synchronous turn as the release, so rows noted meanwhile are not left out.
#[derive(Clone, Default)]
pub struct Drainer(Rc<Cell<bool>>);

impl Drainer {
    /// Drains unless a drain is already running (which then does this work).
    pub async fn drain(&self, env: &Env, sql: &SqlStorage) -> Result<()> {
        if self.0.replace(true) {
            return Ok(());
        }
        // Released however the drain ends (also if its future is dropped).
        struct Release<'a>(&'a Cell<bool>);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _release = Release(&self.0);
        drain(env, sql).await
    }
}

/// Writes what is owed to D1 and clears it from the outbox; what fails stays
/// for the next drain.
async fn drain(env: &Env, sql: &SqlStorage) -> Result<()> {
    for _ in 0..MAX_ROUNDS {
        let visitors = drain_visitors(env, sql).await?;
        let touched = drain_touches(env, sql).await?;
        if !visitors && !touched {
            break;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct VisitorRow {
    visitor_id: String,
    site_id: String,
    first_seen: i64,
    last_seen: i64,
    events: i64,
    version: i64,
}

/// One batch of visitor rows; true when there was any.
async fn drain_visitors(env: &Env, sql: &SqlStorage) -> Result<bool> {
    let rows: Vec<VisitorRow> = sql
        .exec(
            "SELECT visitor_id, site_id, first_seen, last_seen, events, version FROM visitor_counts \
             WHERE version > synced LIMIT ?",
            vec![SqlStorageValue::from(VISITOR_BATCH as i64)],
        )?
        .to_array()?;
    if rows.is_empty() {
        return Ok(false);
    }
    let db = env.d1(bindings::DB)?;
    let stmt = db.prepare(
        "INSERT INTO visitors (visitor_id, site_id, first_seen, last_seen, events) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (visitor_id) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), \
         last_seen = max(last_seen, excluded.last_seen), events = max(events, excluded.events)",
    );
    let mut bound = Vec::with_capacity(rows.len());
    for r in &rows {
        bound.push(stmt.clone().bind(&[
            r.visitor_id.as_str().into(),
            r.site_id.as_str().into(),
            (r.first_seen as f64).into(),
            (r.last_seen as f64).into(),
            (r.events as f64).into(),
        ])?);
    }
    db.batch(bound).await?;
    for r in &rows {
        sql.exec(
            "UPDATE visitor_counts SET synced = ? WHERE visitor_id = ? AND synced < ?",
            vec![
                SqlStorageValue::from(r.version),
                r.visitor_id.as_str().into(),
                r.version.into(),
            ],
        )?;
    }
    Ok(true)
}

#[derive(Deserialize)]
struct PendingRow {
    event_id: String,
    profile_id: String,
}

/// One batch of touches; true when there was any.
async fn drain_touches(env: &Env, sql: &SqlStorage) -> Result<bool> {
    // Rows whose event is gone (never stored) have nothing to write.
    sql.exec(
        "DELETE FROM pending_touches WHERE event_id NOT IN (SELECT event_id FROM events)",
        None,
    )?;
    let pending: Vec<PendingRow> = sql
        .exec(
            "SELECT event_id, profile_id FROM pending_touches ORDER BY event_id LIMIT ?",
            vec![SqlStorageValue::from(TOUCH_BATCH)],
        )?
        .to_array()?;
    if pending.is_empty() {
        return Ok(false);
    }
    let profile_of: BTreeMap<&str, &str> = pending
        .iter()
        .map(|p| (p.event_id.as_str(), p.profile_id.as_str()))
        .collect();
    let mut by_profile: BTreeMap<&str, Vec<AppendItem>> = BTreeMap::new();
    let list = serde_json::to_string(&profile_of.keys().collect::<Vec<_>>())?;
    for item in profile::items_where(sql, "event_id IN (SELECT value FROM json_each(?))", list)? {
        if let Some(p) = profile_of.get(item.event_id.as_str()) {
            by_profile.entry(p).or_default().push(item);
        }
    }
    for (profile_id, items) in &by_profile {
        touches::record(env, profile_id, items).await?;
    }
    // Kept when an absorb repointed a row meanwhile: that write is still owed.
    let mut written: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (event_id, profile_id) in &profile_of {
        written.entry(profile_id).or_default().push(event_id);
    }
    for (profile_id, ids) in written {
        sql.exec(
            "DELETE FROM pending_touches WHERE profile_id = ? AND event_id IN (SELECT value FROM json_each(?))",
            vec![
                SqlStorageValue::from(profile_id),
                serde_json::to_string(&ids)?.into(),
            ],
        )?;
    }
    Ok(true)
}
