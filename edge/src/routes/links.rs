//! `POST /v1/links` (bearer API key): mints a signed chat link for an agent or
//! bot to send in a WhatsApp chat. Body: `{"url": "https://shop.example/p",
//! "wa_id": "15550001111"}` (or `"user_id"`: a business-scoped user id), and
//! optionally `"ttl_seconds"`. Answer: `{"url", "token", "expires_at"}`; the
//! person who opens the URL is linked to that WhatsApp user.

use serde::Deserialize;
use serde_json::json;
use touchline_shared::identity::{check_wa_id, phone_key, IdentityKey};
use touchline_shared::limits::{DEFAULT_LINK_TTL_MS, MAX_LINK_TTL_MS, MAX_URL_LEN};
use touchline_shared::link;
use worker::{Date, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config;
use crate::error::{respond, AppError, AppResult};
use crate::routes::profiles::small_json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    url: String,
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    ttl_seconds: Option<i64>,
}

/// Mints a link.
pub async fn post(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(post_inner(&mut req, &ctx).await)
}

async fn post_inner(req: &mut Request, ctx: &RouteContext<()>) -> AppResult {
    config::require_api_key(req, &ctx.env)?;
    let secret = config::secret(&ctx.env, bindings::LINK_SECRET)?;
    let body: LinkBody = small_json(req).await?;
    let bad = |m: String| AppError::BadRequest("bad_link_request", m);
    if !(body.url.starts_with("https://") || body.url.starts_with("http://"))
        || body.url.len() > MAX_URL_LEN / 2
        || body
            .url
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(bad(format!(
            "url must be an absolute http(s) URL of at most {} bytes",
            MAX_URL_LEN / 2
        )));
    }
    let identity = match (&body.user_id, &body.wa_id) {
        (Some(u), _) => {
            check_wa_id(u).map_err(|e| bad(format!("user_id: {e}")))?;
            IdentityKey::Whatsapp(u.clone())
        }
        (None, Some(w)) => phone_key(w)
            .ok_or_else(|| bad("wa_id: must be the digits of a WhatsApp number".into()))?,
        (None, None) => return Err(bad("name the WhatsApp user by wa_id or user_id".into())),
    };
    let ttl_ms = match body.ttl_seconds {
        None => DEFAULT_LINK_TTL_MS,
        Some(s) if s >= 1 && s.saturating_mul(1000) <= MAX_LINK_TTL_MS => s * 1000,
        Some(_) => {
            return Err(bad(format!(
                "ttl_seconds must be 1 to {}",
                MAX_LINK_TTL_MS / 1000
            )))
        }
    };
    let expires_at = Date::now().as_millis() as i64 + ttl_ms;
    let token = link::mint(secret.as_bytes(), &identity, expires_at);
    Ok(Response::from_json(&json!({
        "url": link::add_to_url(&body.url, &token),
        "token": token,
        "expires_at": expires_at / 1000 * 1000,
    }))?)
}
