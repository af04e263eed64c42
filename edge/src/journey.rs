//! The `Journey` Durable Object: one per visitor, holding its timeline in
//! SQLite. Appends are idempotent on `event_id`, so client retries and
//! duplicate beacons never double count.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result,
    SqlStorageValue, State,
};

use crate::bindings;

/// One validated event on its way into a timeline.
#[derive(Debug, Serialize, Deserialize)]
pub struct AppendItem {
    /// Unique id (the dedup key).
    pub event_id: String,
    /// Site it belongs to.
    pub site_id: String,
    /// Event time on the collector's clock, ms.
    pub time: i64,
    /// Client sequence number.
    pub seq: u32,
    /// When the collector received it, ms.
    pub received_at: i64,
    /// Event kind tag.
    pub kind: String,
    /// The event as JSON.
    pub body: String,
}

/// What an append did.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AppendResult {
    /// Newly stored events.
    pub inserted: usize,
    /// Events whose id was already stored.
    pub duplicates: usize,
}

/// Most events one timeline read returns.
pub const MAX_TIMELINE_EVENTS: usize = 5_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  time INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time, seq);
";

/// A visitor's timeline.
#[durable_object]
pub struct Journey {
    state: State,
    env: Env,
}

impl DurableObject for Journey {
    fn new(state: State, env: Env) -> Self {
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            worker::console_error!("journey schema: {e}");
        }
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        match (req.method(), url.path()) {
            (Method::Post, "/append") => {
                let visitor_id = url
                    .query_pairs()
                    .find(|(k, _)| k == "visitor_id")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let items: Vec<AppendItem> = req.json().await?;
                let result = self.append(&items)?;
                if result.inserted > 0 {
                    self.index_visitor(visitor_id, &items, result.inserted);
                }
                Response::from_json(&result)
            }
            (Method::Get, "/timeline") => {
                let limit = url
                    .query_pairs()
                    .find(|(k, _)| k == "limit")
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(MAX_TIMELINE_EVENTS)
                    .min(MAX_TIMELINE_EVENTS);
                Response::from_json(&self.timeline(limit)?)
            }
            _ => Response::error("not found", 404),
        }
    }
}

#[derive(Deserialize)]
struct Row {
    time: i64,
    received_at: i64,
    body: String,
}

#[derive(Deserialize)]
struct Inserted {
    #[allow(dead_code)]
    id: i64,
}

impl Journey {
    fn append(&self, items: &[AppendItem]) -> Result<AppendResult> {
        let sql = self.state.storage().sql();
        let mut result = AppendResult::default();
        for item in items {
            let cursor = sql.exec(
                "INSERT INTO events (event_id, time, seq, received_at, kind, body) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (event_id) DO NOTHING RETURNING id",
                vec![
                    SqlStorageValue::from(item.event_id.as_str()),
                    item.time.into(),
                    i64::from(item.seq).into(),
                    item.received_at.into(),
                    item.kind.as_str().into(),
                    item.body.as_str().into(),
                ],
            )?;
            if cursor.to_array::<Inserted>()?.is_empty() {
                result.duplicates += 1;
            } else {
                result.inserted += 1;
            }
        }
        Ok(result)
    }

    fn timeline(&self, limit: usize) -> Result<Vec<Value>> {
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT time, received_at, body FROM events ORDER BY time, seq, id LIMIT ?",
                vec![SqlStorageValue::from(limit as i64)],
            )?
            .to_array()?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut v: Value = serde_json::from_str(&r.body).ok()?;
                let obj = v.as_object_mut()?;
                obj.insert("time".into(), r.time.into());
                obj.insert("received_at".into(), r.received_at.into());
                Some(v)
            })
            .collect())
    }

    /// Keeps the D1 index of visitors current, off the request's path.
    fn index_visitor(&self, visitor_id: String, items: &[AppendItem], inserted: usize) {
        let (Some(first), Some(last)) = (
            items.iter().map(|i| i.time).min(),
            items.iter().map(|i| i.time).max(),
        ) else {
            return;
        };
        let site_id = items[0].site_id.clone();
        let env = self.env.clone();
        self.state.wait_until(async move {
            let run = async {
                let db = env.d1(bindings::DB)?;
                db.prepare(
                    "INSERT INTO visitors (visitor_id, site_id, first_seen, last_seen, events) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (visitor_id) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), \
                     last_seen = max(last_seen, excluded.last_seen), events = events + excluded.events",
                )
                .bind(&[
                    visitor_id.into(),
                    site_id.into(),
                    (first as f64).into(),
                    (last as f64).into(),
                    (inserted as f64).into(),
                ])?
                .run()
                .await?;
                Ok::<(), worker::Error>(())
            };
            if let Err(e) = run.await {
                worker::console_error!("visitor index: {e}");
            }
        });
    }
}

/// Appends items to a visitor's journey.
pub async fn append(env: &Env, visitor_id: &str, items: &[AppendItem]) -> Result<AppendResult> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(items)?.into()));
    let url = format!("https://journey/append?visitor_id={visitor_id}");
    let req = Request::new_with_init(&url, &init)?;
    let mut resp = stub(env, visitor_id)?.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "journey append answered {}",
            resp.status_code()
        )));
    }
    resp.json().await
}

/// Reads a visitor's timeline, oldest first.
pub async fn timeline(env: &Env, visitor_id: &str, limit: usize) -> Result<Vec<Value>> {
    let url = format!("https://journey/timeline?limit={limit}");
    stub(env, visitor_id)?
        .fetch_with_str(&url)
        .await?
        .json()
        .await
}

fn stub(env: &Env, visitor_id: &str) -> Result<worker::Stub> {
    env.durable_object(bindings::JOURNEYS)?
        .get_by_name(visitor_id)
}
