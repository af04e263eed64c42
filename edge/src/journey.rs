//! The `Journey` Durable Object: one per visitor, holding its timeline in
//! SQLite. Appends are idempotent on `event_id`, so client retries and
//! duplicate beacons never double count.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result,
    SqlStorageValue, State,
};

use touchline_shared::rules::{evaluate, on_alarm, Observed};
use touchline_shared::signal::{attributed_campaign, observe, Signal, Stamped};

use crate::bindings;
use crate::signals;

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
CREATE TABLE IF NOT EXISTS rule_state (rule TEXT PRIMARY KEY, last_fired INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (rule TEXT PRIMARY KEY, due INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL);
";

/// When handing signals to the queue fails, try again this much later, ms.
const OUTBOX_RETRY_MS: i64 = 5_000;

/// How far back the rules look, ms (the longest default window is 7 days).
const RULES_LOOKBACK_MS: i64 = 8 * 24 * 60 * 60 * 1000;
/// Most events the rules look at.
const RULES_MAX_EVENTS: i64 = 2_000;

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
                let (result, new_ids) = self.append(&items)?;
                if result.inserted > 0 {
                    self.index_visitor(visitor_id.clone(), &items, result.inserted);
                    self.run_rules(&visitor_id, &new_ids).await?;
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

    async fn alarm(&self) -> Result<Response> {
        let now = now_ms();
        self.flush_outbox().await;
        let sql = self.state.storage().sql();
        let due: Vec<AlarmRow> = sql
            .exec(
                "SELECT rule, due FROM alarms WHERE due <= ?",
                vec![SqlStorageValue::from(now)],
            )?
            .to_array()?;
        if !due.is_empty() {
            let rules = signals::rules(&self.env);
            let (timeline, observed) = self.recent(now)?;
            let profile = timeline
                .first()
                .map(|s| s.event.visitor_id.clone())
                .unwrap_or_default();
            let mut fired = Vec::new();
            for a in &due {
                let cooldowns = self.cooldowns()?;
                if let Some(f) = on_alarm(&rules, &a.rule, &observed, &cooldowns, now) {
                    self.cooled(&f.rule, now)?;
                    fired.push(Signal::new(
                        &profile,
                        f,
                        attributed_campaign(&timeline),
                        now,
                    ));
                }
                sql.exec(
                    "DELETE FROM alarms WHERE rule = ? AND due = ?",
                    vec![a.rule.as_str().into(), a.due.into()],
                )?;
            }
            // Err makes the runtime retry the alarm; the signal ids dedupe the retry.
            signals::emit(&self.env, &fired).await?;
        }
        self.schedule_alarm(now).await?;
        Response::ok("ok")
    }
}

#[derive(Deserialize)]
struct AlarmRow {
    rule: String,
    due: i64,
}

#[derive(Deserialize)]
struct CooldownRow {
    rule: String,
    last_fired: i64,
}

fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
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
    fn append(&self, items: &[AppendItem]) -> Result<(AppendResult, Vec<String>)> {
        let sql = self.state.storage().sql();
        let mut result = AppendResult::default();
        let mut new_ids = Vec::new();
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
                new_ids.push(item.event_id.clone());
            }
        }
        Ok((result, new_ids))
    }

    /// The recent timeline, and what the rules see of it.
    fn recent(&self, now: i64) -> Result<(Vec<Stamped>, Vec<Observed>)> {
        let rows: Vec<Row> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT time, received_at, body FROM events WHERE time >= ? ORDER BY time DESC, seq DESC LIMIT ?",
                vec![SqlStorageValue::from(now - RULES_LOOKBACK_MS), RULES_MAX_EVENTS.into()],
            )?
            .to_array()?;
        let timeline: Vec<Stamped> = rows
            .into_iter()
            .filter_map(|r| {
                Some(Stamped {
                    time: r.time,
                    event: serde_json::from_str(&r.body).ok()?,
                })
            })
            .collect();
        let observed = observe(&timeline);
        Ok((timeline, observed))
    }

    fn cooldowns(&self) -> Result<Vec<(String, i64)>> {
        let rows: Vec<CooldownRow> = self
            .state
            .storage()
            .sql()
            .exec("SELECT rule, last_fired FROM rule_state", None)?
            .to_array()?;
        Ok(rows.into_iter().map(|r| (r.rule, r.last_fired)).collect())
    }

    fn cooled(&self, rule: &str, now: i64) -> Result<()> {
        self.state.storage().sql().exec(
            "INSERT INTO rule_state (rule, last_fired) VALUES (?, ?) ON CONFLICT (rule) DO UPDATE SET last_fired = excluded.last_fired",
            vec![rule.into(), now.into()],
        )?;
        Ok(())
    }

    /// Evaluates the rules on each new event, in time order: emits signals,
    /// sets and clears abandonment alarms.
    async fn run_rules(&self, profile: &str, new_ids: &[String]) -> Result<()> {
        let now = now_ms();
        let rules = signals::rules(&self.env);
        let (timeline, observed) = self.recent(now)?;
        let sql = self.state.storage().sql();
        let mut fired = Vec::new();
        for (i, event) in observed.iter().enumerate() {
            if !new_ids.contains(&event.event_id) {
                continue;
            }
            let cooldowns = self.cooldowns()?;
            let decision = evaluate(&rules, &observed[..i], event, &cooldowns, now);
            for f in decision.fire {
                self.cooled(&f.rule, now)?;
                fired.push(Signal::new(profile, f, attributed_campaign(&timeline), now));
            }
            for (rule, due) in decision.set_alarms {
                sql.exec(
                    "INSERT INTO alarms (rule, due) VALUES (?, ?) ON CONFLICT (rule) DO UPDATE SET due = excluded.due",
                    vec![rule.into(), due.into()],
                )?;
            }
            for rule in decision.clear_alarms {
                sql.exec("DELETE FROM alarms WHERE rule = ?", vec![rule.into()])?;
            }
        }
        self.send(&fired).await?;
        self.schedule_alarm(now).await
    }

    /// Transactional outbox: signals are stored with the events that caused
    /// them (same synchronous turn), then handed to the queue; whatever could
    /// not be handed over stays and is retried by the alarm.
    async fn send(&self, fired: &[Signal]) -> Result<()> {
        let sql = self.state.storage().sql();
        for s in fired {
            sql.exec(
                "INSERT INTO outbox (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                vec![s.id.as_str().into(), serde_json::to_string(s)?.into()],
            )?;
        }
        self.flush_outbox().await;
        Ok(())
    }

    async fn flush_outbox(&self) {
        #[derive(Deserialize)]
        struct Out {
            id: String,
            body: String,
        }
        let sql = self.state.storage().sql();
        let rows: Vec<Out> = match sql
            .exec("SELECT id, body FROM outbox", None)
            .and_then(|c| c.to_array())
        {
            Ok(r) => r,
            Err(e) => return worker::console_error!("outbox: {e}"),
        };
        let pending: Vec<Signal> = rows
            .iter()
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect();
        if pending.is_empty() {
            return;
        }
        match signals::emit(&self.env, &pending).await {
            Ok(()) => {
                for r in &rows {
                    let _ = sql.exec(
                        "DELETE FROM outbox WHERE id = ?",
                        vec![r.id.as_str().into()],
                    );
                }
            }
            Err(e) => worker::console_error!("signals kept in the outbox, retrying: {e}"),
        }
    }

    /// Points the Durable Object's one alarm at the earliest pending rule
    /// alarm, or soon when signals wait in the outbox.
    async fn schedule_alarm(&self, now: i64) -> Result<()> {
        #[derive(Deserialize)]
        struct Next {
            due: Option<i64>,
        }
        let next: Vec<Next> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT min(due) AS due FROM (SELECT due FROM alarms \
                 UNION ALL SELECT ? AS due FROM (SELECT 1 FROM outbox LIMIT 1))",
                vec![SqlStorageValue::from(now + OUTBOX_RETRY_MS)],
            )?
            .to_array()?;
        let storage = self.state.storage();
        match next.first().and_then(|n| n.due) {
            // set_alarm with a Duration is an offset from now (CLOUDFLARE-FACTS.md).
            Some(due) => {
                storage
                    .set_alarm(std::time::Duration::from_millis((due - now).max(0) as u64))
                    .await
            }
            None => storage.delete_alarm().await,
        }
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
