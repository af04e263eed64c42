//! The WhatsApp Cloud API webhook, `/webhooks/whatsapp`.
//!
//! GET: Meta's verification handshake (`hub.mode=subscribe`, `hub.verify_token`,
//! `hub.challenge`): 200 with the challenge, else 403.
//! POST: the signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with
//! the app secret) is checked before anything is parsed: missing or wrong is a
//! 401 and nothing is stored. A signed delivery is parsed (400 if it is not a
//! delivery at all), stored, and only then answered 200: each inbound message
//! becomes a `whatsapp_inbound` event on its sender's profile, linked to every
//! identity it names. A message is never acknowledged before it is stored, so
//! a crash after the 200 loses nothing; if storing fails the answer is a 5xx
//! and Meta redelivers. Event ids derive from the wamid, so redeliveries (and a
//! retry of a delivery stored in part) are stored once.
//!
//! A delivery holds at most `MAX_WEBHOOK_MESSAGES`; its messages are grouped by
//! sender (one Durable Object call each, in delivery order) and at most
//! `STORE_CONCURRENCY` senders are stored at a time.

use serde_json::json;
use std::collections::BTreeMap;
use touchline_shared::limits::MAX_WEBHOOK_BODY_BYTES;
use touchline_shared::sign::verify_hub_signature;
use touchline_shared::whatsapp::{parse_delivery, verify_subscription, Delivery};
use worker::{Date, Env, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config;
use crate::error::{respond, AppError, AppResult};
use crate::profile::AppendItem;
use crate::store::{self, Group};

/// Path of the webhook.
pub const PATH: &str = "/webhooks/whatsapp";

/// The GET verification handshake.
pub fn verify(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(verify_inner(&req, &ctx.env))
}

fn verify_inner(req: &Request, env: &Env) -> AppResult {
    let configured = config::secret(env, bindings::WHATSAPP_VERIFY_TOKEN)?;
    let url = req.url()?;
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (mode, token, challenge) = (
        get("hub.mode"),
        get("hub.verify_token"),
        get("hub.challenge"),
    );
    match verify_subscription(
        mode.as_deref(),
        token.as_deref(),
        challenge.as_deref(),
        &configured,
    ) {
        Some(challenge) => {
            let mut resp = Response::ok(challenge)?;
            resp.headers_mut()
                .set("Content-Type", "text/plain; charset=utf-8")?;
            Ok(resp)
        }
        None => Err(AppError::Forbidden(
            "verification refused: hub.mode must be `subscribe` and hub.verify_token must match"
                .into(),
        )),
    }
}

/// Senders of one delivery stored at a time (each: a directory link in D1 and
/// one Durable Object append).
const STORE_CONCURRENCY: usize = 16;

/// A delivery.
pub async fn post(mut req: Request, env: Env) -> Result<Response> {
    respond(post_inner(&mut req, &env).await)
}

async fn post_inner(req: &mut Request, env: &Env) -> AppResult {
    let secret = config::secret(env, bindings::WHATSAPP_APP_SECRET)?;
    let too_large = || {
        AppError::PayloadTooLarge(format!(
            "webhook body is over {MAX_WEBHOOK_BODY_BYTES} bytes"
        ))
    };
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > MAX_WEBHOOK_BODY_BYTES) {
        return Err(too_large());
    }
    let body = req.bytes().await?;
    if body.len() > MAX_WEBHOOK_BODY_BYTES {
        return Err(too_large());
    }
    let header = req.headers().get("X-Hub-Signature-256")?;
    if let Err(e) = verify_hub_signature(secret.as_bytes(), &body, header.as_deref()) {
        worker::console_warn!("whatsapp webhook refused: {e}");
        return Err(AppError::BadSignature(e.to_string()));
    }
    let received_at = Date::now().as_millis() as i64;
    let delivery = parse_delivery(&body, received_at)
        .map_err(|m| AppError::BadRequest("malformed_webhook", m))?;
    let answer = json!({
        "received": delivery.messages.len(),
        "statuses": delivery.statuses,
        "skipped": delivery.skipped,
    });
    if !delivery.messages.is_empty() {
        let site = config::whatsapp_site(env);
        store_delivery(env, &site, delivery, received_at).await?;
    }
    Ok(Response::from_json(&answer)?)
}

/// Stores the messages on their senders' profiles: one group per sender, in
/// delivery order, `STORE_CONCURRENCY` senders at a time.
async fn store_delivery(
    env: &Env,
    site: &str,
    d: Delivery,
    received_at: i64,
) -> std::result::Result<(), AppError> {
    let mut by_sender: BTreeMap<String, Group> = BTreeMap::new();
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
        let keys = m.identity_keys();
        if keys.is_empty() {
            continue;
        }
        let group = by_sender.entry(event.visitor_id.clone()).or_default();
        group.add_keys(keys);
        group.items.push(item);
    }
    let mut groups = by_sender.into_values();
    loop {
        let chunk: Vec<Group> = groups.by_ref().take(STORE_CONCURRENCY).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        store::store(env, chunk, received_at).await?;
    }
}
