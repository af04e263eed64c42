//! The WhatsApp Cloud API webhook, `/webhooks/whatsapp`.
//!
//! GET: Meta's verification handshake (`hub.mode=subscribe`, `hub.verify_token`,
//! `hub.challenge`): 200 with the challenge, else 403.
//! POST: the signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with
//! the app secret) is checked before anything is parsed: missing or wrong is a
//! 401 and nothing is stored. A signed delivery is parsed (400 if it is not a
//! delivery at all), answered 200 at once, and stored with `wait_until`: each
//! inbound message becomes a `whatsapp_inbound` event on its sender's profile,
//! linked to every identity it names. Event ids derive from the wamid, so Meta's
//! redeliveries are stored once.

use serde_json::json;
use touchline_shared::whatsapp::{parse_delivery, Delivery};
use worker::{Context, Date, Env, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config;
use crate::error::{respond, AppError, AppResult};
use crate::profile::AppendItem;
use crate::routes::meta_webhook;
use crate::store::{self, Group};

/// Path of the webhook.
pub const PATH: &str = "/webhooks/whatsapp";

/// The GET verification handshake.
pub fn verify(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(verify_inner(&req, &ctx.env))
}

fn verify_inner(req: &Request, env: &Env) -> AppResult {
    let configured = config::secret(env, bindings::WHATSAPP_VERIFY_TOKEN)?;
    meta_webhook::handshake(req, &configured)
}

/// A delivery (dispatched from the fetch handler, which owns `wait_until`).
pub async fn post(mut req: Request, env: Env, ctx: &Context) -> Result<Response> {
    respond(post_inner(&mut req, env, ctx).await)
}

async fn post_inner(req: &mut Request, env: Env, ctx: &Context) -> AppResult {
    let secret = config::secret(&env, bindings::WHATSAPP_APP_SECRET)?;
    let body = meta_webhook::signed_body(req, &secret, "whatsapp").await?;
    let received_at = Date::now().as_millis() as i64;
    let delivery = parse_delivery(&body, received_at)
        .map_err(|m| AppError::BadRequest("malformed_webhook", m))?;
    let answer = json!({
        "received": delivery.messages.len(),
        "statuses": delivery.statuses,
        "skipped": delivery.skipped,
    });
    if !delivery.messages.is_empty() {
        let site = config::whatsapp_site(&env);
        ctx.wait_until(async move {
            if let Err(e) = store_delivery(&env, &site, delivery, received_at).await {
                worker::console_error!("whatsapp delivery not stored: {e:?}");
            }
        });
    }
    Ok(Response::from_json(&answer)?)
}

/// Stores each message in order, on its sender's profile.
async fn store_delivery(
    env: &Env,
    site: &str,
    d: Delivery,
    received_at: i64,
) -> std::result::Result<(), AppError> {
    for m in d.messages {
        let event = m.to_event(site);
        let item = AppendItem {
            event_id: event.event_id.clone(),
            site_id: event.site_id.clone(),
            time: m.time,
            seq: 0,
            received_at,
            kind: event.data.kind().to_owned(),
            via: "webhook".into(),
            body: serde_json::to_string(&event).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let mut group = Group {
            keys: Vec::new(),
            claims: Vec::new(),
            visitor_id: None,
            items: vec![item],
        };
        group.add_keys(m.identity_keys());
        if group.keys.is_empty() {
            continue;
        }
        store::store_one(env, &group, received_at).await?;
    }
    Ok(())
}
