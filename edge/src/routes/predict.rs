//! Predicted intent and friction, behind the bearer API key:
//! `GET /v1/predictions?site=&min_score=&limit=` (open profiles, best first,
//! with reasons and the model's status), `GET /v1/friction?site=&from=&to=`
//! and `POST /v1/model/train?site=` (train now; the cron also trains).
//! `site` defaults to the WhatsApp site (the first configured one).

use serde_json::json;
use touchline_shared::friction::report;
use touchline_shared::limits::{MAX_ID_LEN, MAX_REPORT_PROFILES};
use touchline_shared::predict::{parse_limit, parse_min_score, DEFAULT_PREDICTIONS_LIMIT};
use worker::{Env, Request, Response, Result, RouteContext};

use crate::config::{self, require_api_key};
use crate::error::{respond, AppError, AppResult};
use crate::predict;
use crate::routes::reports::{bad, now, Query};

/// The `site` parameter: a configured site (400 otherwise).
fn site(q: &Query, env: &Env) -> std::result::Result<String, AppError> {
    let site = match q.get("site") {
        Some(s) => s.to_owned(),
        None => config::whatsapp_site(env),
    };
    let shown: String = site.chars().take(MAX_ID_LEN).collect();
    if site.is_empty() || site.len() > MAX_ID_LEN || !config::sites(env).contains_key(&site) {
        return Err(AppError::BadRequest(
            "unknown_site",
            format!("site `{shown}` is not configured (SITES)"),
        ));
    }
    Ok(site)
}

/// Open profiles sorted by predicted intent, with reasons and the model status.
pub async fn predictions(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(predictions_inner(&req, &ctx.env).await)
}

async fn predictions_inner(req: &Request, env: &Env) -> AppResult {
    require_api_key(req, env)?;
    let q = Query::of(req)?;
    let site = site(&q, env)?;
    let min_score = q
        .get("min_score")
        .map(parse_min_score)
        .transpose()
        .map_err(bad)?
        .unwrap_or(0.0);
    let limit = q
        .get("limit")
        .map(parse_limit)
        .transpose()
        .map_err(bad)?
        .unwrap_or(DEFAULT_PREDICTIONS_LIMIT);
    let (model, status) = predict::model_of(env, &site).await?;
    let (open, truncated) = predict::open_profiles(env, &site, &model).await?;
    let total = open.len();
    let listed: Vec<_> = open
        .into_iter()
        .filter(|o| o.score >= min_score)
        .take(limit)
        .collect();
    Ok(Response::from_json(&json!({
        "site": site,
        "model": status,
        "min_score": min_score,
        "limit": limit,
        "open_profiles": total,
        "profiles": listed,
        "truncated": truncated,
    }))?)
}

/// Per funnel step: drop-off, time before leaving, last events, questions.
pub async fn friction(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(friction_inner(&req, &ctx.env).await)
}

async fn friction_inner(req: &Request, env: &Env) -> AppResult {
    require_api_key(req, env)?;
    let q = Query::of(req)?;
    let site = site(&q, env)?;
    let (from, to) = q.range()?;
    let (rows, truncated) = predict::summaries(env, &site, from, to, MAX_REPORT_PROFILES).await?;
    let r = report(&rows, now());
    Ok(Response::from_json(&json!({
        "site": site,
        "from": from,
        "to": to,
        "report": r,
        "truncated": truncated,
    }))?)
}

/// Trains the site's model now.
pub async fn train(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(train_inner(&req, &ctx.env).await)
}

async fn train_inner(req: &Request, env: &Env) -> AppResult {
    require_api_key(req, env)?;
    let q = Query::of(req)?;
    let site = site(&q, env)?;
    let status = predict::train_site(env, &site, now(), false).await?;
    Ok(Response::from_json(
        &json!({ "site": site, "model": status }),
    )?)
}
