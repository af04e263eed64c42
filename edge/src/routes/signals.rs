//! The signals API, behind the bearer API key:
//! `GET /v1/signals?status=failed|pending|delivered&limit=50&since=<ms>` lists
//! recent signals (emitted after `since`) with their deliveries; `POST /v1/signals/{id}/resend` queues the
//! failed deliveries of one signal again.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config::require_api_key;
use crate::error::{respond, AppError, AppResult};
use crate::signals;

const MAX_LIST: u32 = 500;
/// Latest `since` accepted (year 9999), so a typo is a 400, not an empty feed.
const MAX_SINCE_MS: u64 = 253_402_300_800_000;

#[derive(Deserialize)]
struct Row {
    body: String,
    deliveries: Option<String>,
}

/// Lists recent signals, newest first.
pub async fn list(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(list_inner(&req, &ctx).await)
}

async fn list_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let url = req.url()?;
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    let status = param("status");
    if let Some(s) = status.as_deref() {
        if !["pending", "delivered", "failed"].contains(&s) {
            return Err(AppError::BadRequest(
                "bad_status",
                "status must be pending, delivered or failed".into(),
            ));
        }
    }
    let limit = match param("limit") {
        None => 50,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIST).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest("bad_limit", format!("limit must be 1 to {MAX_LIST}"))
            })?,
    };
    let since = match param("since") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_SINCE_MS)
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "bad_since",
                        "since must be a time in ms since the epoch".into(),
                    )
                })?,
        ),
    };
    let rows: Vec<Row> = ctx
        .env
        .d1(bindings::DB)?
        .prepare(
            "SELECT s.body AS body, \
               (SELECT json_group_array(json_object('url', d.url, 'status', d.status, 'attempts', d.attempts, \
                  'last_status', d.last_status, 'last_error', d.last_error)) \
                FROM signal_deliveries d WHERE d.signal_id = s.id) AS deliveries \
             FROM signals s \
             WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM signal_deliveries d WHERE d.signal_id = s.id AND d.status = ?1)) \
               AND s.emitted_at > ?3 \
             ORDER BY s.emitted_at DESC LIMIT ?2",
        )
        .bind(&[
            status.map_or(wasm_bindgen::JsValue::NULL, Into::into),
            limit.into(),
            (since.unwrap_or(0) as f64).into(),
        ])?
        .all()
        .await?
        .results()?;
    let signals: Vec<Value> = rows
        .into_iter()
        .filter_map(|r| {
            let mut v: Value = serde_json::from_str(&r.body).ok()?;
            let deliveries: Value = r
                .deliveries
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or_else(|| json!([]));
            v.as_object_mut()?.insert("deliveries".into(), deliveries);
            Some(v)
        })
        .collect();
    Ok(Response::from_json(&json!({ "signals": signals }))?)
}

/// Queues a signal's failed deliveries again.
pub async fn resend(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(resend_inner(&req, &ctx).await)
}

async fn resend_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let id = ctx.param("id").cloned().unwrap_or_default();
    match signals::resend(&ctx.env, &id).await? {
        None => Err(AppError::NotFound(format!("no signal `{id}`"))),
        Some(n) => Ok(Response::from_json(&json!({ "id": id, "requeued": n }))?.with_status(202)),
    }
}
