//! The read API, behind the bearer API key:
//! `GET /v1/journeys` lists recently seen visitors (from the D1 index);
//! `GET /v1/journeys/{visitor_id}` returns the ordered timeline of the profile
//! the visitor belongs to (an alias of `/v1/profiles/{id}/timeline` in the
//! original shape: `{"visitor_id", "profile_id", "events"}`).

use serde::{Deserialize, Serialize};
use serde_json::json;
use touchline_shared::validate;
use worker::{Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config::require_api_key;
use crate::directory;
use crate::error::{respond, AppError, AppResult};
use crate::profile;
use touchline_shared::identity::IdentityKey;
use touchline_shared::limits::MAX_TIMELINE_PAGE;

/// Most events one journey read returns.
const MAX_TIMELINE_EVENTS: usize = MAX_TIMELINE_PAGE;

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
    let not_found = || AppError::NotFound(format!("no journey for visitor `{visitor_id}`"));
    let profile_id = directory::profile_of(&ctx.env, &IdentityKey::Visitor(visitor_id.clone()))
        .await?
        .ok_or_else(not_found)?;
    let page = profile::page(&ctx.env, &profile_id, limit as usize, None).await?;
    if page.events.is_empty() {
        return Err(not_found());
    }
    Ok(Response::from_json(&json!({
        "visitor_id": visitor_id,
        "profile_id": profile_id,
        "events": page.events,
    }))?)
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
