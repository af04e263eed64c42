//! The read API, behind the bearer API key:
//! `GET /v1/journeys` lists recently seen visitors (from the D1 index);
//! `GET /v1/journeys/{visitor_id}` returns one visitor's ordered timeline.

use serde::{Deserialize, Serialize};
use serde_json::json;
use touchline_shared::validate;
use worker::{Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config::require_api_key;
use crate::error::{respond, AppError, AppResult};
use crate::journey::{self, MAX_TIMELINE_EVENTS};

/// Most visitors one listing returns.
const MAX_LIST: u32 = 500;

fn limit_param(req: &Request, default: u32, max: u32) -> std::result::Result<u32, AppError> {
    let url = req.url()?;
    match url.query_pairs().find(|(k, _)| k == "limit") {
        None => Ok(default),
        Some((_, v)) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| AppError::BadRequest("bad_limit", format!("limit must be 1 to {max}"))),
    }
}

/// One visitor's timeline.
pub async fn get(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(get_inner(&req, &ctx).await)
}

async fn get_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let visitor_id = ctx.param("visitor_id").cloned().unwrap_or_default();
    validate::id("visitor_id", &visitor_id)
        .map_err(|m| AppError::BadRequest("bad_visitor_id", m))?;
    let limit = limit_param(req, MAX_TIMELINE_EVENTS as u32, MAX_TIMELINE_EVENTS as u32)?;
    let events = journey::timeline(&ctx.env, &visitor_id, limit as usize).await?;
    if events.is_empty() {
        return Err(AppError::NotFound(format!(
            "no journey for visitor `{visitor_id}`"
        )));
    }
    Ok(Response::from_json(
        &json!({ "visitor_id": visitor_id, "events": events }),
    )?)
}

#[derive(Serialize, Deserialize)]
struct VisitorRow {
    visitor_id: String,
    site_id: String,
    first_seen: i64,
    last_seen: i64,
    events: i64,
}

/// Recently seen visitors, newest first.
pub async fn list(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(list_inner(&req, &ctx).await)
}

async fn list_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let limit = limit_param(req, 50, MAX_LIST)?;
    let rows: Vec<VisitorRow> = ctx
        .env
        .d1(bindings::DB)?
        .prepare("SELECT visitor_id, site_id, first_seen, last_seen, events FROM visitors ORDER BY last_seen DESC LIMIT ?1")
        .bind(&[limit.into()])?
        .all()
        .await?
        .results()?;
    Ok(Response::from_json(&json!({ "visitors": rows }))?)
}
