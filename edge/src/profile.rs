//! The `Profile` Durable Object: one per customer profile, holding its timeline
//! in SQLite. Appends are idempotent on `event_id`, so client retries, Meta's
//! redeliveries and merges never double count.
//!
//! Merging: the directory (D1, see `directory.rs`) decides that profile L
//! merges into W and repoints L's identities to W in one batch; then W is asked
//! to absorb L. L, in ONE synchronous turn (SQLite calls are synchronous, so no
//! other request can run in between), returns all its events and records
//! `merged_into = W`. From then on L forwards every append and read to W. So an
//! append that raced the merge lands either in L before the export (and is
//! exported) or in W (forwarded); a second absorb of L is a no-op by event id.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use touchline_shared::limits::{ATTRIBUTION_WINDOW_MS, MAX_TIMELINE_PAGE};
use touchline_shared::schema::Event;
use touchline_shared::timeline::{self, Stored, Touchpoint, Via};
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result,
    SqlStorageValue, State,
};

use touchline_shared::meta::purchase;
use touchline_shared::rules::{evaluate, on_alarm, Firing, Observed, Rule};
use touchline_shared::signal::{attributed_campaign, observe, Signal};

use crate::bindings;
use crate::derived;
use crate::predict;
use crate::signals::{self, Outgoing};

/// One validated event on its way into a timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// How it arrived: `collect`, `events` or `webhook`.
    pub via: String,
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

/// One page of a timeline.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Page {
    /// Stored events, oldest first, each with `time`, `received_at` and `via`.
    pub events: Vec<Value>,
    /// The same events as touchpoints.
    pub touchpoints: Vec<Value>,
    /// Pass as `after` to read the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Export {
    events: Vec<AppendItem>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  site_id TEXT NOT NULL DEFAULT '',
  time INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  via TEXT NOT NULL DEFAULT 'collect',
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_in_order ON events (time, seq, event_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state (rule TEXT PRIMARY KEY, last_fired INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (rule TEXT PRIMARY KEY, due INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, body TEXT NOT NULL);
";

/// How far back the rules look, ms (the longest default window is 7 days).
const RULES_LOOKBACK_MS: i64 = 8 * 24 * 60 * 60 * 1000;
/// Most events the rules look at.
const RULES_MAX_EVENTS: i64 = 2_000;
/// When handing signals to the queue fails, try again this much later, ms.
const OUTBOX_RETRY_MS: i64 = 5_000;

/// A customer's timeline.
#[durable_object]
pub struct Profile {
    state: State,
    env: Env,
    /// Writes the visitor index and touches this profile owes (`derived.rs`).
    drainer: derived::Drainer,
}

fn param(url: &worker::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl DurableObject for Profile {
    fn new(state: State, env: Env) -> Self {
        for schema in [SCHEMA, derived::SCHEMA] {
            if let Err(e) = state.storage().sql().exec(schema, None) {
                worker::console_error!("profile schema: {e}");
            }
        }
        Self {
            state,
            env,
            drainer: derived::Drainer::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let path = url.path().to_owned();
        if self.meta("deleted")?.is_some() {
            // Erased on a privacy request: store nothing, show nothing.
            return match path.as_str() {
                "/append" => Response::from_json(&AppendResult::default()),
                "/export" => Response::from_json(&Export::default()),
                "/destroy" => Response::from_json(&serde_json::json!({ "events": 0 })),
                _ => Response::from_json(&Page::default()),
            };
        }
        if path != "/export" && path != "/destroy" {
            if let Some(winner) = self.meta("merged_into")? {
                return self.forward(&winner, req).await;
            }
        }
        match (req.method(), path.as_str()) {
            (Method::Post, "/append") => {
                let visitor_id = param(&url, "visitor_id");
                let profile_id = param(&url, "profile").unwrap_or_default();
                let items: Vec<AppendItem> = req.json().await?;
                let (result, new_ids) = self.append(&items)?;
                // Same synchronous turn as the inserts: the D1 rows they owe.
                let new_items: Vec<&AppendItem> = items
                    .iter()
                    .filter(|i| new_ids.contains(&i.event_id))
                    .collect();
                let sql = self.state.storage().sql();
                if let Some(v) = &visitor_id {
                    derived::note_visitor(&sql, v, &new_items)?;
                }
                if result.inserted > 0 && !profile_id.is_empty() {
                    if self.meta("id")?.is_none() {
                        self.set_meta("id", &profile_id)?;
                    }
                    derived::note_touches(&sql, &profile_id, new_ids.iter().map(String::as_str))?;
                    self.drain_derived();
                    // Sets the alarm (the drain's safety net) before the answer.
                    let recent = self.run_rules(&profile_id, &new_ids).await?;
                    self.predict(&profile_id, Some(&recent)).await?;
                }
                Response::from_json(&result)
            }
            (Method::Get, "/timeline") => {
                let limit = param(&url, "limit")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(MAX_TIMELINE_PAGE)
                    .clamp(1, MAX_TIMELINE_PAGE);
                let after = param(&url, "after").and_then(|c| parse_cursor(&c));
                Response::from_json(&self.page(limit, after)?)
            }
            (Method::Post, "/absorb") => {
                let me = param(&url, "profile").unwrap_or_default();
                let from = param(&url, "from").unwrap_or_default();
                if from.is_empty() || from == me {
                    return Response::from_json(&AppendResult::default());
                }
                let export = export_from(&self.env, &from, &me).await?;
                let (result, new_ids) = self.append(&export.events)?;
                // Every absorbed event's report row now belongs to this profile.
                let sql = self.state.storage().sql();
                let new_items: Vec<&AppendItem> = export
                    .events
                    .iter()
                    .filter(|i| new_ids.contains(&i.event_id))
                    .collect();
                derived::note_absorbed_visitors(&sql, &new_items)?;
                derived::note_touches(
                    &sql,
                    &me,
                    export.events.iter().map(|i| i.event_id.as_str()),
                )?;
                self.drain_derived();
                self.predict(&me, None).await?;
                self.schedule_alarm(now_ms()).await?;
                Response::from_json(&result)
            }
            (Method::Post, "/export") => {
                // One synchronous turn: read everything, then mark as merged.
                let into = param(&url, "into").unwrap_or_default();
                let events = self.all_items()?;
                if self.meta("merged_into")?.is_none() && !into.is_empty() {
                    self.set_meta("merged_into", &into)?;
                }
                Response::from_json(&Export { events })
            }
            (Method::Post, "/destroy") => {
                let sql = self.state.storage().sql();
                let n = sql
                    .exec("SELECT id FROM events", None)?
                    .to_array::<Id>()?
                    .len();
                let tables = ["events", "meta", "rule_state", "alarms", "outbox"];
                for table in tables.iter().chain(&derived::TABLES) {
                    sql.exec(&format!("DELETE FROM {table}"), None)?;
                }
                self.state.storage().delete_alarm().await?;
                self.set_meta("deleted", "1")?;
                Response::from_json(&serde_json::json!({ "events": n }))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let now = now_ms();
        if self.meta("deleted")?.is_some() {
            return Response::ok("nothing to do");
        }
        // D1 rows owed by earlier appends, also of a profile merged since.
        let sql = self.state.storage().sql();
        if let Err(e) = self.drainer.drain(&self.env, &sql).await {
            worker::console_error!("visitor index and touches kept in the outbox, retrying: {e}");
        }
        let profile = self.meta("id")?.unwrap_or_default();
        if self.meta("merged_into")?.is_some() || profile.is_empty() {
            if derived::pending(&sql) {
                let retry = std::time::Duration::from_millis(OUTBOX_RETRY_MS as u64);
                self.state.storage().set_alarm(retry).await?;
            }
            return Response::ok("nothing to do");
        }
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
            let mut fired = Vec::new();
            for a in &due {
                let cooldowns = self.cooldowns()?;
                if let Some(f) = on_alarm(&rules, &a.rule, &observed, &cooldowns, now) {
                    self.cooled(&f.rule, now)?;
                    fired.push(self.outgoing(&profile, f, &rules, &timeline, now));
                }
                sql.exec(
                    "DELETE FROM alarms WHERE rule = ? AND due = ?",
                    vec![a.rule.as_str().into(), a.due.into()],
                )?;
            }
            self.send(&fired).await?;
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
struct Id {
    #[allow(dead_code)]
    id: i64,
}

#[derive(Deserialize)]
struct MetaRow {
    value: String,
}

#[derive(Deserialize)]
struct Row {
    event_id: String,
    site_id: String,
    time: i64,
    seq: i64,
    received_at: i64,
    kind: String,
    via: String,
    body: String,
}

const COLUMNS: &str = "event_id, site_id, time, seq, received_at, kind, via, body";

fn parse_cursor(c: &str) -> Option<(i64, i64, String)> {
    let mut p = c.splitn(3, '.');
    let time = p.next()?.parse().ok()?;
    let seq = p.next()?.parse().ok()?;
    let id = p.next()?.to_owned();
    Some((time, seq, id))
}

impl Row {
    fn stored(&self) -> Option<Stored> {
        let event: Event = serde_json::from_str(&self.body).ok()?;
        Some(Stored {
            time: self.time,
            via: Via::parse(&self.via),
            event,
        })
    }

    fn json(&self) -> Option<Value> {
        let mut v: Value = serde_json::from_str(&self.body).ok()?;
        let obj = v.as_object_mut()?;
        obj.insert("time".into(), self.time.into());
        obj.insert("received_at".into(), self.received_at.into());
        obj.insert("via".into(), self.via.clone().into());
        Some(v)
    }
}

impl Profile {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        let rows: Vec<MetaRow> = self
            .state
            .storage()
            .sql()
            .exec("SELECT value FROM meta WHERE key = ?", vec![key.into()])?
            .to_array()?;
        Ok(rows.into_iter().next().map(|r| r.value))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.state.storage().sql().exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![key.into(), value.into()],
        )?;
        Ok(())
    }

    async fn forward(&self, winner: &str, req: Request) -> Result<Response> {
        let mut url = req.url()?;
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "profile")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("profile", winner);
        let mut init = RequestInit::new();
        init.with_method(req.method());
        let mut req = req;
        if req.method() == Method::Post {
            init.with_body(Some(req.text().await?.into()));
        }
        let fwd = Request::new_with_init(url.as_str(), &init)?;
        stub(&self.env, winner)?.fetch_with_request(fwd).await
    }

    fn append(&self, items: &[AppendItem]) -> Result<(AppendResult, Vec<String>)> {
        let sql = self.state.storage().sql();
        let mut result = AppendResult::default();
        let mut new_ids = Vec::new();
        for item in items {
            let cursor = sql.exec(
                "INSERT INTO events (event_id, site_id, time, seq, received_at, kind, via, body) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING RETURNING id",
                vec![
                    SqlStorageValue::from(item.event_id.as_str()),
                    item.site_id.as_str().into(),
                    item.time.into(),
                    i64::from(item.seq).into(),
                    item.received_at.into(),
                    item.kind.as_str().into(),
                    item.via.as_str().into(),
                    item.body.as_str().into(),
                ],
            )?;
            if cursor.to_array::<Id>()?.is_empty() {
                result.duplicates += 1;
            } else {
                result.inserted += 1;
                new_ids.push(item.event_id.clone());
            }
        }
        Ok((result, new_ids))
    }

    /// The recent timeline, and what the rules see of it. Every append reads
    /// it (up to [`RULES_MAX_EVENTS`]), so rows are parsed one at a time
    /// rather than all read first: the raw rows (each with its JSON body) are
    /// never all in memory next to the parsed timeline.
    fn recent(&self, now: i64) -> Result<(Vec<Stored>, Vec<Observed>)> {
        let cursor = self.state.storage().sql().exec(
            &format!(
                "SELECT {COLUMNS} FROM events WHERE time >= ? ORDER BY time DESC, seq DESC LIMIT ?"
            ),
            vec![
                SqlStorageValue::from(now - RULES_LOOKBACK_MS),
                RULES_MAX_EVENTS.into(),
            ],
        )?;
        let mut timeline = Vec::new();
        for row in cursor.next::<Row>() {
            timeline.extend(row?.stored());
        }
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
    /// sets and clears abandonment alarms. Returns the recent timeline it read.
    async fn run_rules(&self, profile: &str, new_ids: &[String]) -> Result<Vec<Stored>> {
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
                fired.push(self.outgoing(profile, f, &rules, &timeline, now));
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
        // Orders credited to a click-to-WhatsApp ad go to Meta's Conversions API.
        for id in new_ids {
            if let Some(p) = purchase(&timeline, id, now) {
                if let Err(e) = signals::report_purchase(&self.env, profile, &p).await {
                    worker::console_error!("conversion {} not recorded: {e}", p.event_id);
                }
            }
        }
        self.schedule_alarm(now).await?;
        Ok(timeline)
    }

    /// Predicted intent (`predict.rs`): updates the profile's prediction row
    /// from `recent` (what the rules just read; `None`: read it all, after a
    /// merge) and sends the `predicted_intent` signals it crosses.
    async fn predict(&self, profile: &str, recent: Option<&[Stored]>) -> Result<()> {
        let now = now_ms();
        let rules = signals::rules(&self.env);
        let cooldowns = self.cooldowns()?;
        let fired = predict::refresh(
            &self.state,
            &self.env,
            profile,
            recent,
            &rules,
            &cooldowns,
            now,
        )?;
        if fired.is_empty() {
            return Ok(());
        }
        let timeline = match recent {
            Some(t) => t.to_vec(),
            None => self.recent(now)?.0,
        };
        let mut out = Vec::new();
        for f in fired {
            self.cooled(&f.rule, now)?;
            out.push(self.outgoing(profile, f, &rules, &timeline, now));
        }
        self.send(&out).await
    }

    /// A fired rule as a signal, with its WhatsApp nudge when configured.
    fn outgoing(
        &self,
        profile: &str,
        f: Firing,
        rules: &[Rule],
        timeline: &[Stored],
        now: i64,
    ) -> Outgoing {
        let rule = rules.iter().find(|r| r.id == f.rule);
        let signal = Signal::new(profile, f, attributed_campaign(timeline), now);
        let nudge = signals::nudge_for(&self.env, rule, timeline, &signal.id);
        Outgoing { signal, nudge }
    }

    /// Transactional outbox: signals are stored with the events that caused
    /// them (same synchronous turn), then handed to the queue; whatever could
    /// not be handed over stays and is retried by the alarm.
    async fn send(&self, fired: &[Outgoing]) -> Result<()> {
        let sql = self.state.storage().sql();
        for o in fired {
            sql.exec(
                "INSERT INTO outbox (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                vec![
                    o.signal.id.as_str().into(),
                    serde_json::to_string(o)?.into(),
                ],
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
        let pending: Vec<Outgoing> = rows
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
                &format!(
                    "SELECT min(due) AS due FROM (SELECT due FROM alarms \
                     UNION ALL SELECT ? AS due FROM (SELECT 1 FROM outbox UNION ALL {} LIMIT 1))",
                    derived::PENDING_SQL
                ),
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

    fn all_items(&self) -> Result<Vec<AppendItem>> {
        items_where(&self.state.storage().sql(), "1 = ?", 1)
    }

    fn page(&self, limit: usize, after: Option<(i64, i64, String)>) -> Result<Page> {
        let sql = self.state.storage().sql();
        let fetch = (limit + 1) as i64;
        let mut rows: Vec<Row> = match &after {
            None => sql.exec(
                &format!("SELECT {COLUMNS} FROM events ORDER BY time, seq, event_id LIMIT ?"),
                vec![fetch.into()],
            )?,
            Some((t, s, id)) => sql.exec(
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE (time, seq, event_id) > (?, ?, ?) \
                     ORDER BY time, seq, event_id LIMIT ?"
                ),
                vec![(*t).into(), (*s).into(), id.as_str().into(), fetch.into()],
            )?,
        }
        .to_array()?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more
            .then(|| {
                rows.last()
                    .map(|r| format!("{}.{}.{}", r.time, r.seq, r.event_id))
            })
            .flatten();
        // Campaign touches before this page, so its orders can be credited.
        let earlier: Vec<Row> = match rows.first() {
            Some(first) if after.is_some() && rows.iter().any(|r| r.kind == "order") => sql
                .exec(
                    &format!(
                        "SELECT {COLUMNS} FROM events WHERE kind IN ('whatsapp_inbound', 'page_view', 'paid_search', 'instagram', 'instagram_inbound') \
                         AND time >= ? AND (time, seq, event_id) < (?, ?, ?) ORDER BY time DESC, seq DESC, event_id DESC LIMIT 200"
                    ),
                    vec![
                        (first.time - ATTRIBUTION_WINDOW_MS).into(),
                        first.time.into(),
                        first.seq.into(),
                        first.event_id.as_str().into(),
                    ],
                )?
                .to_array()?,
            _ => Vec::new(),
        };
        let page: Vec<Stored> = rows.iter().filter_map(Row::stored).collect();
        let earlier: Vec<Stored> = earlier.iter().filter_map(Row::stored).collect();
        let touchpoints: Vec<Touchpoint> = timeline::touchpoints(&page, &earlier);
        Ok(Page {
            events: rows.iter().filter_map(Row::json).collect(),
            touchpoints: touchpoints
                .iter()
                .filter_map(|t| serde_json::to_value(t).ok())
                .collect(),
            next_cursor,
        })
    }

    /// Writes the D1 rows the outbox holds right after the answer; the
    /// alarm retries whatever this does not finish (`derived.rs`).
    fn drain_derived(&self) {
        let (env, sql) = (self.env.clone(), self.state.storage().sql());
        let drainer = self.drainer.clone();
        let delay = env
            .var(bindings::OUTBOX_DRAIN_DELAY_MS)
            .ok()
            .and_then(|v| v.to_string().parse::<u64>().ok())
            .unwrap_or(0);
        self.state.wait_until(async move {
            if delay > 0 {
                worker::Delay::from(std::time::Duration::from_millis(delay)).await;
            }
            if let Err(e) = drainer.drain(&env, &sql).await {
                worker::console_error!(
                    "visitor index and touches kept in the outbox, retrying: {e}"
                );
            }
        });
    }
}

/// Stored events matching `condition` (one `?`, bound to `value`), in insertion order.
pub(crate) fn items_where(
    sql: &worker::SqlStorage,
    condition: &str,
    value: impl Into<SqlStorageValue>,
) -> Result<Vec<AppendItem>> {
    let rows: Vec<Row> = sql
        .exec(
            &format!("SELECT {COLUMNS} FROM events WHERE {condition} ORDER BY id"),
            vec![value.into()],
        )?
        .to_array()?;
    Ok(rows
        .into_iter()
        .map(|r| AppendItem {
            event_id: r.event_id,
            site_id: r.site_id,
            time: r.time,
            seq: u32::try_from(r.seq).unwrap_or(0),
            received_at: r.received_at,
            kind: r.kind,
            via: r.via,
            body: r.body,
        })
        .collect())
}

fn stub(env: &Env, profile_id: &str) -> Result<worker::Stub> {
    env.durable_object(bindings::PROFILES)?
        .get_by_name(profile_id)
}

async fn call(
    env: &Env,
    profile_id: &str,
    method: Method,
    path_and_query: &str,
    body: Option<String>,
) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Some(b) = body {
        init.with_body(Some(b.into()));
    }
    let sep = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("https://profile{path_and_query}{sep}profile={profile_id}");
    let req = Request::new_with_init(&url, &init)?;
    let resp = stub(env, profile_id)?.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "profile {path_and_query} answered {}",
            resp.status_code()
        )));
    }
    Ok(resp)
}

async fn export_from(env: &Env, loser: &str, winner: &str) -> Result<Export> {
    call(
        env,
        loser,
        Method::Post,
        &format!("/export?into={winner}"),
        None,
    )
    .await?
    .json()
    .await
}

/// Appends items to a profile's timeline; `visitor_id` keeps the visitor index.
pub async fn append(
    env: &Env,
    profile_id: &str,
    visitor_id: Option<&str>,
    items: &[AppendItem],
) -> Result<AppendResult> {
    let path = match visitor_id {
        Some(v) => format!("/append?visitor_id={v}"),
        None => "/append".to_owned(),
    };
    call(
        env,
        profile_id,
        Method::Post,
        &path,
        Some(serde_json::to_string(items)?),
    )
    .await?
    .json()
    .await
}

/// Reads one page of a profile's timeline, oldest first.
pub async fn page(env: &Env, profile_id: &str, limit: usize, after: Option<&str>) -> Result<Page> {
    let mut path = format!("/timeline?limit={limit}");
    if let Some(a) = after {
        let mut u = worker::Url::parse("https://x/")
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        u.query_pairs_mut().append_pair("after", a);
        path.push('&');
        path.push_str(u.query().unwrap_or(""));
    }
    call(env, profile_id, Method::Get, &path, None)
        .await?
        .json()
        .await
}

/// Moves `loser`'s events into `winner`; the loser forwards to the winner after.
pub async fn absorb(env: &Env, winner: &str, loser: &str) -> Result<AppendResult> {
    call(
        env,
        winner,
        Method::Post,
        &format!("/absorb?from={loser}"),
        None,
    )
    .await?
    .json()
    .await
}

/// Erases a profile's events for good; it stores nothing afterwards.
pub async fn destroy(env: &Env, profile_id: &str) -> Result<usize> {
    let v: Value = call(env, profile_id, Method::Post, "/destroy", None)
        .await?
        .json()
        .await?;
    Ok(v.get("events").and_then(Value::as_u64).unwrap_or(0) as usize)
}
