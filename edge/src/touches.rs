//! The reporting store (D1 `touches`): one row per stored event, with the step
//! and source the core derives (`touchline_shared::touches::touch_of`).
//!
//! Written by the Profile Durable Object after appends, through its outbox
//! (`derived.rs`: recorded with the events, drained after the answer and by
//! the alarm), idempotent by `event_id`: an upsert that also repoints
//! `profile_id`, so when a winner absorbs a loser's events their rows move to
//! the winner. Reads also resolve `profile_id` through `merges`, which covers a
//! loser's late write landing after the absorb.

use serde::Deserialize;
use std::collections::BTreeMap;
use touchline_shared::limits::{MAX_REPORT_PROFILES, MAX_REPORT_TOUCHES};
use touchline_shared::reports::{Journey, Source, Touch};
use touchline_shared::schema::Event;
use touchline_shared::timeline::{Stored, Via};
use touchline_shared::touches::touch_of;
use wasm_bindgen::JsValue;
use worker::Env;

use crate::bindings;
use crate::error::AppError;
use crate::profile::AppendItem;

/// Statements per D1 batch when recording touches.
const WRITE_BATCH: usize = 50;

fn opt(s: &str) -> JsValue {
    if s.is_empty() {
        JsValue::NULL
    } else {
        s.into()
    }
}

/// Records the touches of `items` for `profile_id` (insert or repoint).
pub async fn record(env: &Env, profile_id: &str, items: &[AppendItem]) -> worker::Result<()> {
    let db = env.d1(bindings::DB)?;
    let stmt = db.prepare(
        "INSERT INTO touches (event_id, profile_id, time, step, channel, source, campaign, ad, organic, value, currency) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (event_id) DO UPDATE SET profile_id = excluded.profile_id",
    );
    let mut bound = Vec::new();
    for item in items {
        let Ok(event) = serde_json::from_str::<Event>(&item.body) else {
            continue;
        };
        let rec = touch_of(&Stored {
            time: item.time,
            via: Via::parse(&item.via),
            event,
        });
        let t = &rec.touch;
        let s = t.source.clone().unwrap_or(Source {
            channel: String::new(),
            source: String::new(),
            campaign: String::new(),
            ad: String::new(),
        });
        bound.push(stmt.clone().bind(&[
            t.event_id.as_str().into(),
            profile_id.into(),
            (t.time as f64).into(),
            t.step.as_str().into(),
            opt(&s.channel),
            opt(&s.source),
            opt(&s.campaign),
            opt(&s.ad),
            (if t.organic { 1.0 } else { 0.0 }).into(),
            t.value.map_or(JsValue::NULL, JsValue::from_f64),
            rec.currency.as_deref().map_or(JsValue::NULL, JsValue::from),
        ])?);
    }
    while !bound.is_empty() {
        let rest = bound.split_off(bound.len().min(WRITE_BATCH));
        db.batch(bound).await?;
        bound = rest;
    }
    Ok(())
}

/// Forgets the touches of erased profiles.
pub async fn forget(env: &Env, profile_ids: &[String]) -> Result<(), AppError> {
    let list = serde_json::to_string(profile_ids).map_err(|e| AppError::Internal(e.to_string()))?;
    env.d1(bindings::DB)?
        .prepare("DELETE FROM touches WHERE profile_id IN (SELECT value FROM json_each(?1))")
        .bind(&[list.into()])?
        .run()
        .await?;
    Ok(())
}

/// Which profiles a report reads.
#[derive(Clone, Copy)]
pub enum Profiles {
    /// Profiles with any touch in `[from, to)`.
    ActiveIn(i64, i64),
    /// Profiles whose first touch lies in `[from, to)` (cohorts, time to convert).
    FirstTouchIn(i64, i64),
}

/// Journeys loaded for a report.
pub struct Loaded {
    /// One per profile, touches in time order.
    pub journeys: Vec<Journey>,
    /// Order currencies by event id.
    pub currencies: BTreeMap<String, String>,
    /// A limit was reached: the numbers cover only part of the range.
    pub truncated: bool,
}

#[derive(Deserialize)]
struct Row {
    profile_id: String,
    event_id: String,
    time: f64,
    step: String,
    channel: Option<String>,
    source: Option<String>,
    campaign: Option<String>,
    ad: Option<String>,
    organic: f64,
    value: Option<f64>,
    currency: Option<String>,
}

/// Loads the touches in `[from, to)` of the chosen profiles, at most
/// [`MAX_REPORT_PROFILES`] profiles and [`MAX_REPORT_TOUCHES`] touches.
pub async fn load(env: &Env, who: Profiles, from: i64, to: i64) -> Result<Loaded, AppError> {
    let (profiles_sql, a, b) = match who {
        Profiles::ActiveIn(a, b) => (
            "SELECT DISTINCT profile_id FROM touches WHERE time >= ?1 AND time < ?2 LIMIT ?5",
            a,
            b,
        ),
        Profiles::FirstTouchIn(a, b) => (
            "SELECT profile_id FROM touches GROUP BY profile_id HAVING min(time) >= ?1 AND min(time) < ?2 LIMIT ?5",
            a,
            b,
        ),
    };
    let sql = format!(
        "WITH p AS ({profiles_sql}) \
         SELECT coalesce(m.winner, t.profile_id) AS profile_id, t.event_id, t.time, t.step, t.channel, \
           t.source, t.campaign, t.ad, t.organic, t.value, t.currency \
         FROM touches t JOIN p ON p.profile_id = t.profile_id LEFT JOIN merges m ON m.loser = t.profile_id \
         WHERE t.time >= ?3 AND t.time < ?4 ORDER BY t.time LIMIT ?6"
    );
    let rows: Vec<Row> = env
        .d1(bindings::DB)?
        .prepare(&sql)
        .bind(&[
            (a as f64).into(),
            (b as f64).into(),
            (from as f64).into(),
            (to as f64).into(),
            (MAX_REPORT_PROFILES as f64).into(),
            ((MAX_REPORT_TOUCHES + 1) as f64).into(),
        ])?
        .all()
        .await?
        .results()?;
    let mut truncated = rows.len() > MAX_REPORT_TOUCHES;
    let mut by_profile: BTreeMap<String, Vec<Touch>> = BTreeMap::new();
    let mut currencies = BTreeMap::new();
    for r in rows.into_iter().take(MAX_REPORT_TOUCHES) {
        let source = r.channel.map(|channel| Source {
            channel,
            source: r.source.unwrap_or_default(),
            campaign: r.campaign.unwrap_or_default(),
            ad: r.ad.unwrap_or_default(),
        });
        if let Some(c) = r.currency {
            currencies.insert(r.event_id.clone(), c);
        }
        by_profile.entry(r.profile_id).or_default().push(Touch {
            event_id: r.event_id,
            time: r.time as i64,
            step: r.step,
            source,
            value: r.value,
            organic: r.organic != 0.0,
        });
    }
    truncated |= by_profile.len() >= MAX_REPORT_PROFILES;
    Ok(Loaded {
        journeys: by_profile
            .into_iter()
            .map(|(profile_id, touches)| Journey {
                profile_id,
                touches,
            })
            .collect(),
        currencies,
        truncated,
    })
}
