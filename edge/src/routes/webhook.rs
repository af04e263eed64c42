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
use touchline_shared::whatsapp::{parse_delivery, Delivery};
use worker::{Date, Env, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config;
use crate::error::{respond, AppError, AppResult};
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

/// Senders of one delivery stored at a time (each: a directory link in D1 and
/// one Durable Object append).
const STORE_CONCURRENCY: usize = 16;

/// A delivery.
pub async fn post(mut req: Request, env: Env) -> Result<Response> {
    respond(post_inner(&mut req, &env).await)
}

async fn post_inner(req: &mut Request, env: &Env) -> AppResult {
    let secret = config::secret(env, bindings::WHATSAPP_APP_SECRET)?;
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
        let item = store::item(&event, m.time, received_at, "webhook")?;
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
