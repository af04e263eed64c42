//! `POST /v1/collect`: validates a batch, keeps the good events, names the
//! bad ones by index, and appends each visitor's events to its Journey.
//!
//! Response: `{"accepted": n, "rejected": [{"index": i, "reason": "..."}], "duplicates": n}`.
//! `accepted` counts newly stored events, `duplicates` valid events whose id
//! was already stored. 200 when anything valid arrived (or the batch was
//! empty); 400 with the same body when every event was rejected.

use std::collections::BTreeMap;

use serde_json::json;
use touchline_shared::bots::is_bot;
use touchline_shared::identity::IdentityKey;
use touchline_shared::instagram::classify_web;
use touchline_shared::sites::{check_origin, cors_origin, Sites};
use touchline_shared::stitch::event_keys;
use touchline_shared::validate::{validate_batch, Rejection};
use worker::{Date, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config;
use crate::error::{respond, AppError, AppResult};
use crate::profile::AppendItem;
use crate::stats;
use crate::store::{self, Group};

/// Receives a batch.
pub async fn post(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let origin = req.headers().get("Origin").ok().flatten();
    let sites = config::sites(&ctx.env);
    let resp = respond(collect(&mut req, &ctx.env, &sites, origin.as_deref()).await)?;
    with_cors(resp, &sites, origin.as_deref())
}

/// CORS preflight (browsers skip it for `text/plain`, but JSON senders need it).
pub fn preflight(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let origin = req.headers().get("Origin").ok().flatten();
    let sites = config::sites(&ctx.env);
    let mut resp = Response::empty()?.with_status(204);
    let h = resp.headers_mut();
    h.set("Access-Control-Allow-Methods", "POST, OPTIONS")?;
    h.set("Access-Control-Allow-Headers", "Content-Type")?;
    h.set("Access-Control-Max-Age", "86400")?;
    with_cors(resp, &sites, origin.as_deref())
}

fn with_cors(mut resp: Response, sites: &Sites, origin: Option<&str>) -> Result<Response> {
    let h = resp.headers_mut();
    h.set("Vary", "Origin")?;
    if let Some(o) = origin.and_then(|o| cors_origin(sites, o)) {
        h.set("Access-Control-Allow-Origin", o)?;
    }
    Ok(resp)
}

async fn collect(
    req: &mut Request,
    env: &worker::Env,
    sites: &Sites,
    origin: Option<&str>,
) -> AppResult {
    super::check_batch_request(req)?;
    let user_agent = req.headers().get("User-Agent")?.unwrap_or_default();
    if is_bot(&user_agent) {
        stats::count(env, "bot_batches").await;
        return Ok(Response::from_json(&json!({
            "accepted": 0, "rejected": [], "duplicates": 0, "filtered": "bot",
        }))?);
    }
    let ip = req.headers().get("CF-Connecting-IP")?.unwrap_or_default();
    limit(env, bindings::RL_IP, &format!("ip:{ip}"), "this address").await?;
    let body = req.bytes().await?;
    let received_at = Date::now().as_millis() as i64;
    let outcome = validate_batch(&body, received_at)?;
    let mut sites_seen: Vec<&str> = outcome
        .accepted
        .iter()
        .map(|a| a.event.site_id.as_str())
        .collect();
    sites_seen.sort_unstable();
    sites_seen.dedup();
    for site in sites_seen {
        limit(env, bindings::RL_SITE, &format!("site:{site}"), "this site").await?;
    }

    let mut rejected = outcome.rejected;
    let link_secret = config::optional_secret(env, bindings::LINK_SECRET);
    let mut by_visitor: BTreeMap<String, Group> = BTreeMap::new();
    for mut a in outcome.accepted {
        if let Err(reason) = check_origin(sites, &a.event.site_id, origin) {
            rejected.push(Rejection {
                index: a.index,
                reason,
            });
            continue;
        }
        // Instagram's in-app browser names itself only in the user agent.
        classify_web(&mut a.event, &user_agent);
        let item = AppendItem {
            event_id: a.event.event_id.clone(),
            site_id: a.event.site_id.clone(),
            time: a.time,
            seq: a.event.seq,
            received_at,
            kind: a.event.data.kind().to_owned(),
            via: "collect".into(),
            body: serde_json::to_string(&a.event).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let found = event_keys(
            &a.event,
            link_secret.as_deref().map(str::as_bytes),
            received_at,
            false,
        );
        if let Some(e) = found.link_error {
            worker::console_log!("visitor {}: {e}; not linked", a.event.visitor_id);
        }
        let visitor = a.event.visitor_id;
        let group = by_visitor.entry(visitor.clone()).or_insert_with(|| Group {
            keys: vec![IdentityKey::Visitor(visitor.clone())],
            claims: Vec::new(),
            visitor_id: Some(visitor),
            items: Vec::new(),
        });
        group.add_keys(found.keys);
        group.claims.extend(found.claims);
        group.items.push(item);
    }
    rejected.sort_by_key(|r| r.index);

    let stored = store::store(env, by_visitor.into_values().collect(), received_at).await?;
    let (accepted, duplicates) = (stored.accepted, stored.duplicates);
    super::batch_response(accepted, &rejected, duplicates)
}

/// Seconds a client should wait when limited: the limiters' period.
const RETRY_AFTER_SECONDS: u32 = 10;

/// One request against a Workers rate-limit binding; 429 when over. A
/// missing binding (or a limiter error) lets the request through.
async fn limit(
    env: &worker::Env,
    binding: &str,
    key: &str,
    who: &str,
) -> std::result::Result<(), AppError> {
    let Ok(limiter) = env.rate_limiter(binding) else {
        return Ok(());
    };
    match limiter.limit(key.to_owned()).await {
        Ok(outcome) if !outcome.success => {
            stats::count(env, "rate_limited").await;
            Err(AppError::TooManyRequests(
                RETRY_AFTER_SECONDS,
                format!("too many requests from {who}; retry after {RETRY_AFTER_SECONDS} s"),
            ))
        }
        _ => Ok(()),
    }
}
