//! Predicted purchase intent and friction at the edge (the decisions are in
//! `touchline_shared::predict` and `::friction`).
//!
//! - After each append (and absorb) the Profile Durable Object calls
//!   [`refresh`]: it reads its own timeline, computes the features and the
//!   friction summary, scores them with the site's model and upserts one row
//!   of the D1 `predictions` table (off the request's path). The model comes
//!   from the object's own SQLite cache, refreshed from D1 in the background
//!   when older than [`MODEL_CACHE_MS`], so no D1 read sits on the append path.
//! - [`train_all`] (the cron) and [`train_site`] (`POST /v1/model/train`)
//!   fit the site's model on its rows and store it in D1 `models`.
//! - Merged-away profiles are left out of every read (`merges`), erased ones
//!   are deleted with the rest of the profile (`directory::erase`).

use serde::{Deserialize, Serialize};
use touchline_shared::friction::{summarize, Summary, SETTLE_MS};
use touchline_shared::predict::{
    default_model, extract, score, train, with_first_touch, Model, ModelKind, Row as TrainRow,
    Scored, Training, L2_LAMBDA, MAX_FEATURE_EVENTS, MAX_ITERATIONS, MAX_TRAIN_ROWS,
    MIN_CONVERTERS, MIN_NON_CONVERTERS,
};
use touchline_shared::rules::{on_prediction, Firing, Rule};
use touchline_shared::schema::Event;
use touchline_shared::timeline::{Stored, Via};
use worker::{Env, SqlStorage, SqlStorageValue, State};

use crate::bindings;
use crate::config;
use crate::error::AppError;

/// How long a Profile object trusts its cached copy of the site's model, ms.
pub const MODEL_CACHE_MS: i64 = 60_000;

#[derive(Deserialize)]
struct EventRow {
    time: i64,
    via: String,
    body: String,
}

#[derive(Deserialize)]
struct MetaRow {
    value: String,
}

fn meta(sql: &SqlStorage, key: &str) -> Option<String> {
    sql.exec("SELECT value FROM meta WHERE key = ?", vec![key.into()])
        .and_then(|c| c.to_array::<MetaRow>())
        .ok()?
        .into_iter()
        .next()
        .map(|r| r.value)
}

fn set_meta(sql: &SqlStorage, key: &str, value: &str) -> worker::Result<()> {
    sql.exec(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        vec![key.into(), value.into()],
    )?;
    Ok(())
}

/// The model a Profile object scores with: its cached copy of the site's
/// model (defaults when none); a stale or missing copy is refreshed from D1
/// in the background for the next update.
fn cached_model(state: &State, env: &Env, site: &str, now: i64) -> Model {
    let sql = state.storage().sql();
    let key = format!("predict_model:{site}");
    let at_key = format!("predict_model_at:{site}");
    let cached: Option<Model> = meta(&sql, &key).and_then(|m| serde_json::from_str(&m).ok());
    let at: i64 = meta(&sql, &at_key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MIN);
    if cached.is_none() || now.saturating_sub(at) > MODEL_CACHE_MS {
        // Marked fresh at once, so that the appends of the next minute do not
        // all fetch it again; a failed fetch is retried after that minute.
        if let Err(e) = set_meta(&sql, &at_key, &now.to_string()) {
            worker::console_error!("model cache: {e}");
        }
        let (env, site) = (env.clone(), site.to_owned());
        state.wait_until(async move {
            match model_of(&env, &site).await {
                Ok((model, _)) => {
                    let body = serde_json::to_string(&model).unwrap_or_default();
                    if let Err(e) = set_meta(&sql, &key, &body) {
                        worker::console_error!("model cache: {e}");
                    }
                }
                Err(e) => worker::console_error!("model cache: {e:?}"),
            }
        });
    }
    cached
        .filter(Model::is_usable)
        .unwrap_or_else(default_model)
}

/// Meta key: the profile has ordered and its row is written; its features
/// are frozen as they stood before the order, so appends skip the work.
const FROZEN: &str = "predict_frozen";

#[derive(Deserialize)]
struct FirstRow {
    first: Option<i64>,
}

/// Recomputes the profile's prediction row and decides the
/// `predicted_intent` rules; returns what fired (the caller records the
/// cooldowns and sends the signals). `recent` is the timeline the rules just
/// read (the last 8 days, at most 2,000 events), so nothing is parsed twice;
/// `None` (after a merge) reads the newest [`MAX_FEATURE_EVENTS`] events and
/// thaws a frozen row.
pub fn refresh(
    state: &State,
    env: &Env,
    profile_id: &str,
    recent: Option<&[Stored]>,
    rules: &[Rule],
    cooldowns: &[(String, i64)],
    now: i64,
) -> worker::Result<Vec<Firing>> {
    let sql = state.storage().sql();
    let loaded: Vec<Stored>;
    let timeline: &[Stored] = match recent {
        Some(_) if meta(&sql, FROZEN).is_some() => return Ok(Vec::new()),
        Some(t) => t,
        None => {
            sql.exec("DELETE FROM meta WHERE key = ?", vec![FROZEN.into()])?;
            let rows: Vec<EventRow> = sql
                .exec(
                    "SELECT time, via, body FROM events ORDER BY time DESC, seq DESC LIMIT ?",
                    vec![SqlStorageValue::from(MAX_FEATURE_EVENTS as i64)],
                )?
                .to_array()?;
            loaded = rows
                .iter()
                .filter_map(|r| {
                    Some(Stored {
                        time: r.time,
                        via: Via::parse(&r.via),
                        event: serde_json::from_str::<Event>(&r.body).ok()?,
                    })
                })
                .collect();
            &loaded
        }
    };
    let (Some(f), Some(summary)) = (extract(timeline), summarize(timeline)) else {
        return Ok(Vec::new());
    };
    let first: Vec<FirstRow> = sql
        .exec("SELECT min(time) AS first FROM events", None)?
        .to_array()?;
    let f = match first.first().and_then(|r| r.first) {
        Some(t) => with_first_touch(f, t),
        None => f,
    };
    let model = cached_model(state, env, &f.site_id, now);
    let scored = score(&model, &f.features);
    let newest = timeline
        .iter()
        .max_by_key(|s| (s.time, s.event.seq))
        .map(|s| s.event.event_id.clone())
        .unwrap_or_default();
    let fired = if f.converted || f.events == 0 {
        Vec::new()
    } else {
        on_prediction(rules, scored.score, &newest, f.as_of, cooldowns, now)
    };
    let record = Record {
        profile_id: profile_id.to_owned(),
        site_id: f.site_id.clone(),
        converted: f.converted,
        first_time: f.first_time,
        last_time: f.as_of,
        events: f.events,
        features: serde_json::to_string(&f.features)?,
        friction: serde_json::to_string(&summary)?,
        scored,
        model: model_label(&model),
        updated_at: now,
    };
    let (env, converted) = (env.clone(), f.converted);
    state.wait_until(async move {
        match record.write(&env).await {
            Ok(()) if converted => {
                if let Err(e) = set_meta(&sql, FROZEN, "1") {
                    worker::console_error!("prediction row: {e}");
                }
            }
            Ok(()) => {}
            Err(e) => worker::console_error!("prediction row: {e}"),
        }
    });
    Ok(fired)
}

fn model_label(m: &Model) -> String {
    match m.kind {
        ModelKind::Default => "default".into(),
        ModelKind::Trained => format!("trained:{}", m.trained_at),
    }
}

struct Record {
    profile_id: String,
    site_id: String,
    converted: bool,
    first_time: i64,
    last_time: i64,
    events: usize,
    features: String,
    friction: String,
    scored: Scored,
    model: String,
    updated_at: i64,
}

impl Record {
    async fn write(&self, env: &Env) -> worker::Result<()> {
        let reasons: Vec<&str> = self
            .scored
            .reasons
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        env.d1(bindings::DB)?
            .prepare(
                "INSERT INTO predictions (profile_id, site_id, converted, first_time, last_time, events, \
                 features, friction, score, reasons, model, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                 ON CONFLICT (profile_id) DO UPDATE SET site_id = excluded.site_id, converted = excluded.converted, \
                 first_time = excluded.first_time, last_time = excluded.last_time, events = excluded.events, \
                 features = excluded.features, friction = excluded.friction, score = excluded.score, \
                 reasons = excluded.reasons, model = excluded.model, updated_at = excluded.updated_at",
            )
            .bind(&[
                self.profile_id.as_str().into(),
                self.site_id.as_str().into(),
                (if self.converted { 1.0 } else { 0.0 }).into(),
                (self.first_time as f64).into(),
                (self.last_time as f64).into(),
                (self.events as f64).into(),
                self.features.as_str().into(),
                self.friction.as_str().into(),
                self.scored.score.into(),
                serde_json::to_string(&reasons)?.into(),
                self.model.as_str().into(),
                (self.updated_at as f64).into(),
            ])?
            .run()
            .await?;
        Ok(())
    }
}

/// A site's model state, as the API and the dashboard show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// `trained` or `default`.
    pub state: String,
    /// Converted journeys in the last training run's data.
    pub converters: usize,
    /// Not-converted (settled) journeys in it.
    pub non_converters: usize,
    /// Converted journeys needed before the site's own model is used.
    pub min_converters: usize,
    /// Not-converted journeys needed.
    pub min_non_converters: usize,
    /// When the last training ran, ms (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_at: Option<i64>,
    /// What the numbers mean.
    pub message: String,
}

#[derive(Serialize, Deserialize)]
struct ModelRecord {
    training: Training,
    ran_at: i64,
    stamp: String,
}

#[derive(Deserialize)]
struct ModelRow {
    body: String,
}

fn status_of(training: Option<&Training>, ran_at: Option<i64>) -> Status {
    let (state, converters, non_converters, trained_at) = match training {
        Some(Training::Trained(m)) => (
            "trained",
            m.converters,
            m.non_converters,
            Some(m.trained_at),
        ),
        Some(Training::NotEnoughData {
            converters,
            non_converters,
        }) => ("default", *converters, *non_converters, ran_at),
        None => ("default", 0, 0, None),
    };
    let message = if state == "trained" {
        format!("trained on {converters} converted and {non_converters} other journeys")
    } else {
        format!(
            "not enough data: default weights until {MIN_CONVERTERS} converted and {MIN_NON_CONVERTERS} other journeys; now {converters} and {non_converters}"
        )
    };
    Status {
        state: state.into(),
        converters,
        non_converters,
        min_converters: MIN_CONVERTERS,
        min_non_converters: MIN_NON_CONVERTERS,
        trained_at,
        message,
    }
}

async fn stored_model(env: &Env, site: &str) -> Result<Option<ModelRecord>, AppError> {
    let row: Option<ModelRow> = env
        .d1(bindings::DB)?
        .prepare("SELECT body FROM models WHERE site_id = ?1")
        .bind(&[site.into()])?
        .first(None)
        .await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.body).ok()))
}

/// The site's current model (defaults until trained) and its status.
pub async fn model_of(env: &Env, site: &str) -> Result<(Model, Status), AppError> {
    let stored = stored_model(env, site).await?;
    let status = status_of(
        stored.as_ref().map(|s| &s.training),
        stored.as_ref().map(|s| s.ran_at),
    );
    let model = match stored.map(|s| s.training) {
        Some(Training::Trained(m)) if m.is_usable() => m,
        _ => default_model(),
    };
    Ok((model, status))
}

#[derive(Deserialize)]
struct FeatureRow {
    features: String,
    converted: f64,
}

#[derive(Deserialize)]
struct StampRow {
    n: f64,
    latest: Option<f64>,
}

/// Trains the site's model on its settled journeys now and stores it.
/// `only_if_changed` skips sites whose rows did not change since the last run.
pub async fn train_site(
    env: &Env,
    site: &str,
    now: i64,
    only_if_changed: bool,
) -> Result<Status, AppError> {
    let db = env.d1(bindings::DB)?;
    let stamp: Option<StampRow> = db
        .prepare(
            "SELECT count(*) AS n, max(updated_at) AS latest FROM predictions WHERE site_id = ?1",
        )
        .bind(&[site.into()])?
        .first(None)
        .await?;
    let stamp = stamp
        .map(|s| format!("{}:{}", s.n, s.latest.unwrap_or(0.0)))
        .unwrap_or_default();
    if only_if_changed {
        if let Some(s) = stored_model(env, site).await? {
            if s.stamp == stamp {
                return Ok(status_of(Some(&s.training), Some(s.ran_at)));
            }
        }
    }
    let rows: Vec<FeatureRow> = db
        .prepare(
            "SELECT p.features, p.converted FROM predictions p LEFT JOIN merges m ON m.loser = p.profile_id \
             WHERE p.site_id = ?1 AND m.loser IS NULL AND p.events > 0 AND (p.converted = 1 OR p.last_time < ?2) \
             ORDER BY p.last_time DESC LIMIT ?3",
        )
        .bind(&[
            site.into(),
            ((now - SETTLE_MS) as f64).into(),
            (MAX_TRAIN_ROWS as f64).into(),
        ])?
        .all()
        .await?
        .results()?;
    let rows: Vec<TrainRow> = rows
        .into_iter()
        .filter_map(|r| {
            Some(TrainRow {
                features: serde_json::from_str(&r.features).ok()?,
                converted: r.converted != 0.0,
            })
        })
        .collect();
    let training = train(&rows, L2_LAMBDA, MAX_ITERATIONS, now);
    let status = status_of(Some(&training), Some(now));
    let body = serde_json::to_string(&ModelRecord {
        training,
        ran_at: now,
        stamp,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    db.prepare(
        "INSERT INTO models (site_id, body, trained_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (site_id) DO UPDATE SET body = excluded.body, trained_at = excluded.trained_at",
    )
    .bind(&[site.into(), body.into(), (now as f64).into()])?
    .run()
    .await?;
    Ok(status)
}

/// Cron: trains every configured site whose rows changed.
pub async fn train_all(env: &Env, now: i64) -> usize {
    let mut trained = 0;
    for site in config::sites(env).keys() {
        match train_site(env, site, now, true).await {
            Ok(_) => trained += 1,
            Err(e) => worker::console_error!("training {site}: {e:?}"),
        }
    }
    trained
}

/// One open profile with its current score.
#[derive(Debug, Serialize)]
pub struct Open {
    /// The profile.
    pub profile_id: String,
    /// Probability of buying under the site's current model.
    pub score: f64,
    /// Why, strongest first.
    pub reasons: Vec<String>,
    /// First event, ms.
    pub first_time: i64,
    /// Last event, ms.
    pub last_time: i64,
}

#[derive(Deserialize)]
struct OpenRow {
    profile_id: String,
    features: String,
    first_time: f64,
    last_time: f64,
}

/// Most open profiles scored for one answer (the most recently active).
pub const MAX_SCORED: usize = 5_000;

/// The site's open (not converted) profiles scored with `model`, best first;
/// `truncated` when more than [`MAX_SCORED`] exist.
pub async fn open_profiles(
    env: &Env,
    site: &str,
    model: &Model,
) -> Result<(Vec<Open>, bool), AppError> {
    let rows: Vec<OpenRow> = env
        .d1(bindings::DB)?
        .prepare(
            "SELECT p.profile_id, p.features, p.first_time, p.last_time FROM predictions p \
             LEFT JOIN merges m ON m.loser = p.profile_id \
             WHERE p.site_id = ?1 AND p.converted = 0 AND p.events > 0 AND m.loser IS NULL \
             ORDER BY p.last_time DESC LIMIT ?2",
        )
        .bind(&[site.into(), ((MAX_SCORED + 1) as f64).into()])?
        .all()
        .await?
        .results()?;
    let truncated = rows.len() > MAX_SCORED;
    let mut open: Vec<Open> = rows
        .into_iter()
        .take(MAX_SCORED)
        .filter_map(|r| {
            let features: Vec<f64> = serde_json::from_str(&r.features).ok()?;
            let s = score(model, &features);
            Some(Open {
                profile_id: r.profile_id,
                score: s.score,
                reasons: s.reasons.into_iter().map(|r| r.text).collect(),
                first_time: r.first_time as i64,
                last_time: r.last_time as i64,
            })
        })
        .collect();
    open.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.last_time.cmp(&a.last_time))
    });
    Ok((open, truncated))
}

#[derive(Deserialize)]
struct FrictionRow {
    profile_id: String,
    friction: String,
}

/// Friction summaries of the site's profiles last active in `[from, to)`.
pub async fn summaries(
    env: &Env,
    site: &str,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<(Vec<(String, Summary)>, bool), AppError> {
    let rows: Vec<FrictionRow> = env
        .d1(bindings::DB)?
        .prepare(
            "SELECT p.profile_id, p.friction FROM predictions p LEFT JOIN merges m ON m.loser = p.profile_id \
             WHERE p.site_id = ?1 AND m.loser IS NULL AND p.last_time >= ?2 AND p.last_time < ?3 \
             ORDER BY p.last_time DESC LIMIT ?4",
        )
        .bind(&[
            site.into(),
            (from as f64).into(),
            (to as f64).into(),
            ((limit + 1) as f64).into(),
        ])?
        .all()
        .await?
        .results()?;
    let truncated = rows.len() > limit;
    Ok((
        rows.into_iter()
            .take(limit)
            .filter_map(|r| Some((r.profile_id, serde_json::from_str(&r.friction).ok()?)))
            .collect(),
        truncated,
    ))
}
