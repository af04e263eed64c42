//! The Instagram messaging webhook, `/webhooks/instagram` (Meta app →
//! Instagram → Webhooks; fields `messages`, `messaging_postbacks`,
//! `messaging_referral`).
//!
//! GET: the verification handshake (`INSTAGRAM_VERIFY_TOKEN`, else
//! `WHATSAPP_VERIFY_TOKEN`). POST: the signature (`INSTAGRAM_APP_SECRET`, else
//! `WHATSAPP_APP_SECRET`) is checked over the raw body before anything is read;
//! missing or wrong is a 401 and nothing is stored. A signed delivery is parsed
//! by the core (`touchline_shared::instagram`; 400 if it is not a delivery),
//! each message, Icebreaker tap and ig.me referral is stored on its sender's
//! profile (`ig:<IGSID>`, joined to the web visitor an ig.me `ref` names), and
//! only then answered 200, so a failed store is retried by Meta. Event ids
//! derive from the `mid`: redeliveries are stored once. Everything else (echoes,
//! reads, reactions, unknown event types, comments) is acknowledged and named
//! in `skipped`.

use serde_json::json;
use touchline_shared::instagram::parse_delivery;
use worker::{Date, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config;
use crate::error::{respond, AppError, AppResult};
use crate::routes::meta_webhook;
use crate::store::{self, Group};

/// Path of the webhook.
pub const PATH: &str = "/webhooks/instagram";

/// The GET verification handshake.
pub fn verify(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(
        config::secret_or(
            &ctx.env,
            bindings::INSTAGRAM_VERIFY_TOKEN,
            bindings::WHATSAPP_VERIFY_TOKEN,
        )
        .and_then(|token| meta_webhook::handshake(&req, &token)),
    )
}

/// A delivery.
pub async fn post(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(post_inner(&mut req, &ctx).await)
}

async fn post_inner(req: &mut Request, ctx: &RouteContext<()>) -> AppResult {
    let env = &ctx.env;
    let secret = config::secret_or(
        env,
        bindings::INSTAGRAM_APP_SECRET,
        bindings::WHATSAPP_APP_SECRET,
    )?;
    let body = meta_webhook::signed_body(req, &secret, "instagram").await?;
    let received_at = Date::now().as_millis() as i64;
    let delivery = parse_delivery(&body, received_at)
        .map_err(|e| AppError::BadRequest("malformed_webhook", e.to_string()))?;
    let skipped = delivery.reasons();
    if !skipped.is_empty() {
        worker::console_log!("instagram delivery: {} skipped: {skipped:?}", skipped.len());
    }
    let site = config::instagram_site(env);
    let link_secret = config::optional_secret(env, bindings::LINK_SECRET);
    let (mut stored, mut duplicates) = (0, 0);
    for m in &delivery.events {
        let event = m.to_event(&site);
        let mut group = Group {
            keys: Vec::new(),
            claims: Vec::new(),
            visitor_id: None,
            items: vec![store::item(&event, m.time, received_at, "webhook")?],
        };
        group.add_keys(m.identity_keys(link_secret.as_deref().map(str::as_bytes), received_at));
        let (a, d) = store::store_one(env, &group, received_at).await?;
        stored += a;
        duplicates += d;
    }
    Ok(Response::from_json(&json!({
        "received": delivery.events.len(),
        "stored": stored,
        "duplicates": duplicates,
        "skipped": skipped,
    }))?)
}
