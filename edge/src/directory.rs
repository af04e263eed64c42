//! The identity directory (D1): which profile each identity key belongs to, and
//! which profiles were merged into which.
//!
//! Linking keys (`link`) is the one write path: read the keys' rows, let the
//! core plan it (`identity::plan_link`: the oldest profile wins), then apply the
//! plan in ONE D1 batch (a transaction): new keys are inserted with
//! `ON CONFLICT DO NOTHING`, merged profiles are recorded in `merges` and their
//! keys repointed with one `UPDATE`. The winner Durable Object then absorbs the
//! loser's events. The read is repeated until every key names the same live
//! profile, so two requests that race (two first events of one visitor, or two
//! merges sharing a profile) converge on the same, oldest profile.

use serde::Deserialize;
use touchline_shared::identity::{is_profile_id, new_profile_id, plan_link, IdentityKey};
use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::bindings;
use crate::error::AppError;
use crate::profile;

/// Rounds of read-plan-write before a link must have settled.
const MAX_LINK_ROUNDS: usize = 6;
/// Longest merge chain followed when resolving a profile id.
const MAX_MERGE_CHAIN: usize = 16;

#[derive(Deserialize)]
struct KeyRow {
    identity: String,
    profile_id: String,
    winner: Option<String>,
}

#[derive(Deserialize)]
struct ProfileRow {
    profile_id: String,
}

#[derive(Deserialize)]
struct IdentityRow {
    identity: String,
}

#[derive(Deserialize)]
struct WinnerRow {
    winner: String,
}

#[derive(Deserialize)]
struct LoserRow {
    loser: String,
}

fn db(env: &Env) -> Result<D1Database, AppError> {
    Ok(env.d1(bindings::DB)?)
}

fn js_list(items: &[String]) -> Result<JsValue, AppError> {
    Ok(serde_json::to_string(items)
        .map_err(|e| AppError::Internal(e.to_string()))?
        .into())
}

fn random_u64() -> u64 {
    let hi = (worker::js_sys::Math::random() * 4_294_967_296.0) as u64;
    let lo = (worker::js_sys::Math::random() * 4_294_967_296.0) as u64;
    hi << 32 | lo
}

async fn read_keys(db: &D1Database, keys: &[String]) -> Result<Vec<KeyRow>, AppError> {
    Ok(db
        .prepare(
            "SELECT i.identity, i.profile_id, m.winner FROM identities i \
             LEFT JOIN merges m ON m.loser = i.profile_id \
             WHERE i.identity IN (SELECT value FROM json_each(?1))",
        )
        .bind(&[js_list(keys)?])?
        .all()
        .await?
        .results()?)
}

/// Makes every key in `keys` name one profile, creating or merging profiles
/// as needed; returns that profile's id. `claims` are recorded for that
/// profile only where still free (see `identity::plan_link`).
pub async fn link(
    env: &Env,
    keys: &[IdentityKey],
    claims: &[IdentityKey],
    now_ms: i64,
) -> Result<String, AppError> {
    let mut keys: Vec<String> = keys.iter().map(IdentityKey::as_key).collect();
    keys.sort();
    keys.dedup();
    let mut claims: Vec<String> = claims.iter().map(IdentityKey::as_key).collect();
    if keys.is_empty() {
        return Err(AppError::Internal("link without identities".into()));
    }
    let db = db(env)?;
    let mut last = None;
    for _ in 0..MAX_LINK_ROUNDS {
        let rows = read_keys(&db, &keys).await?;
        // A row may still name a profile that has just been merged away: plan
        // with its winner, and repoint it.
        let mut repoint: Vec<(String, String)> = Vec::new();
        let known: Vec<(String, String)> = rows
            .into_iter()
            .map(|r| match r.winner {
                Some(w) => {
                    repoint.push((r.profile_id, w.clone()));
                    (r.identity, w)
                }
                None => (r.identity, r.profile_id),
            })
            .collect();
        let fresh = new_profile_id(now_ms, random_u64());
        let plan = plan_link(&keys, &claims, &known, &fresh);
        if plan.insert.is_empty() && plan.merge.is_empty() && repoint.is_empty() {
            return Ok(plan.profile);
        }
        let now = JsValue::from_f64(now_ms as f64);
        let target: JsValue = plan.profile.as_str().into();
        let mut batch = Vec::new();
        for k in &plan.insert {
            batch.push(
                db.prepare(
                    "INSERT INTO identities (identity, profile_id, linked_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (identity) DO NOTHING",
                )
                .bind(&[k.as_str().into(), target.clone(), now.clone()])?,
            );
        }
        for loser in &plan.merge {
            batch.push(
                db.prepare(
                    "INSERT INTO merges (loser, winner, merged_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (loser) DO NOTHING",
                )
                .bind(&[loser.as_str().into(), target.clone(), now.clone()])?,
            );
        }
        for loser in plan.merge.iter().chain(repoint.iter().map(|(l, _)| l)) {
            let winner: JsValue = repoint
                .iter()
                .find(|(l, _)| l == loser)
                .map_or(target.clone(), |(_, w)| w.as_str().into());
            batch.push(
                db.prepare("UPDATE identities SET profile_id = ?2 WHERE profile_id = ?1")
                    .bind(&[loser.as_str().into(), winner])?,
            );
        }
        db.batch(batch).await?;
        // Claims are written once; whoever holds them is left alone.
        claims.clear();
        for loser in &plan.merge {
            profile::absorb(env, &plan.profile, loser).await?;
        }
        last = Some(plan.profile);
    }
    // Still moving after several rounds (a storm of merges): the last target is
    // safe to use, since a merged profile forwards everything to its winner.
    last.ok_or_else(|| AppError::Internal("identity directory did not settle".into()))
}

/// The live profile a profile id ended up in (following merges), if it exists.
async fn live_profile(db: &D1Database, id: &str) -> Result<Option<String>, AppError> {
    let mut current = id.to_owned();
    for _ in 0..MAX_MERGE_CHAIN {
        let winner: Option<WinnerRow> = db
            .prepare("SELECT winner FROM merges WHERE loser = ?1")
            .bind(&[current.as_str().into()])?
            .first(None)
            .await?;
        match winner {
            Some(w) => current = w.winner,
            None => break,
        }
    }
    let exists: Option<ProfileRow> = db
        .prepare("SELECT profile_id FROM identities WHERE profile_id = ?1 LIMIT 1")
        .bind(&[current.as_str().into()])?
        .first(None)
        .await?;
    Ok(exists.map(|r| r.profile_id))
}

/// The profile of one identity key, if any.
pub async fn profile_of(env: &Env, key: &IdentityKey) -> Result<Option<String>, AppError> {
    let db = db(env)?;
    let row: Option<ProfileRow> = db
        .prepare("SELECT profile_id FROM identities WHERE identity = ?1")
        .bind(&[key.as_key().into()])?
        .first(None)
        .await?;
    match row {
        Some(r) => live_profile(&db, &r.profile_id).await,
        None => Ok(None),
    }
}

/// Finds the profile named by `id`: a profile id, an identity key
/// (`wa:…`, `ph:…`, `ig:…`, …), a visitor id, a wa_id / business-scoped user
/// id, or an Instagram-scoped user id.
pub async fn resolve(env: &Env, id: &str) -> Result<Option<String>, AppError> {
    if is_profile_id(id) {
        if let Some(p) = live_profile(&db(env)?, id).await? {
            return Ok(Some(p));
        }
    }
    if id.contains(':') {
        return match IdentityKey::parse(id) {
            Ok(k) => profile_of(env, &k).await,
            Err(_) => Ok(None),
        };
    }
    for key in [
        IdentityKey::Visitor(id.to_owned()),
        IdentityKey::Whatsapp(id.to_owned()),
        IdentityKey::Instagram(id.to_owned()),
    ] {
        if key.check().is_ok() {
            if let Some(p) = profile_of(env, &key).await? {
                return Ok(Some(p));
            }
        }
    }
    Ok(None)
}

/// Every identity key of a profile, sorted.
pub async fn identities(env: &Env, profile_id: &str) -> Result<Vec<String>, AppError> {
    let rows: Vec<IdentityRow> = db(env)?
        .prepare("SELECT identity FROM identities WHERE profile_id = ?1 ORDER BY identity")
        .bind(&[profile_id.into()])?
        .all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| r.identity).collect())
}

/// What a deletion removed.
pub struct Erased {
    /// Identity keys removed.
    pub identities: usize,
    /// Events removed.
    pub events: usize,
    /// Profiles (the live one and those merged into it) erased.
    pub profiles: usize,
}

/// Erases a profile: the events of it and of every profile merged into it,
/// then, in one D1 batch, its identity links, merge records and visitor rows.
/// Durable Objects are erased first so that a failure leaves the directory
/// intact and the request can simply be repeated.
pub async fn erase(env: &Env, profile_id: &str) -> Result<Erased, AppError> {
    let db = db(env)?;
    let mut all = vec![profile_id.to_owned()];
    let mut frontier = all.clone();
    while !frontier.is_empty() && all.len() < 10_000 {
        let rows: Vec<LoserRow> = db
            .prepare("SELECT loser FROM merges WHERE winner IN (SELECT value FROM json_each(?1))")
            .bind(&[js_list(&frontier)?])?
            .all()
            .await?
            .results()?;
        frontier = rows
            .into_iter()
            .map(|r| r.loser)
            .filter(|l| !all.contains(l))
            .collect();
        all.extend(frontier.iter().cloned());
    }
    let keys = identities(env, profile_id).await?;
    let mut events = 0;
    for p in all.iter().rev() {
        events += profile::destroy(env, p).await?;
    }
    let visitors: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("v:").map(str::to_owned))
        .collect();
    crate::touches::forget(env, &all).await?;
    let list = js_list(&all)?;
    db.batch(vec![
        db.prepare("DELETE FROM identities WHERE profile_id IN (SELECT value FROM json_each(?1))")
            .bind(std::slice::from_ref(&list))?,
        db.prepare(
            "DELETE FROM merges WHERE winner IN (SELECT value FROM json_each(?1)) \
             OR loser IN (SELECT value FROM json_each(?1))",
        )
        .bind(std::slice::from_ref(&list))?,
        // Their predicted-intent rows (`predict.rs`).
        db.prepare("DELETE FROM predictions WHERE profile_id IN (SELECT value FROM json_each(?1))")
            .bind(&[list])?,
        db.prepare("DELETE FROM visitors WHERE visitor_id IN (SELECT value FROM json_each(?1))")
            .bind(&[js_list(&visitors)?])?,
    ])
    .await?;
    Ok(Erased {
        identities: keys.len(),
        events,
        profiles: all.len(),
    })
}

/// One identity key of a profile (to link it with others).
pub async fn any_key(env: &Env, profile_id: &str) -> Result<Option<IdentityKey>, AppError> {
    let row: Option<IdentityRow> = db(env)?
        .prepare("SELECT identity FROM identities WHERE profile_id = ?1 LIMIT 1")
        .bind(&[profile_id.into()])?
        .first(None)
        .await?;
    Ok(row.and_then(|r| IdentityKey::parse(&r.identity).ok()))
}
