//! `POST /v1/links` (bearer API key): mints a signed link.
//!
//! - A chat link for an agent or bot to send in a WhatsApp chat or an Instagram
//!   Direct conversation: `{"url": "https://shop.example/p", "wa_id":
//!   "15550001111"}` (or `"user_id"`: a business-scoped user id, or `"igsid"`:
//!   an Instagram-scoped user id). The person who opens the URL is linked to
//!   that WhatsApp or Instagram user.
//! - An ig.me link for the site to show a web visitor: `{"ig_username":
//!   "touchline.shop", "visitor_id": "v…"}` -> `https://ig.me/m/touchline.shop?ref=…`;
//!   the Direct conversation it opens is linked to that visitor.
//!
//! Optionally `"ttl_seconds"`. Answer: `{"url", "token", "expires_at"}`.

use serde::Deserialize;
use serde_json::json;
use touchline_shared::identity::{check_igsid, check_wa_id, phone_key, IdentityKey};
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
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    igsid: Option<String>,
    #[serde(default)]
    ig_username: Option<String>,
    #[serde(default)]
    visitor_id: Option<String>,
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
    let ttl_ms = ttl_ms(body.ttl_seconds).map_err(bad)?;
    let expires_at = Date::now().as_millis() as i64 + ttl_ms;
    if let Some(username) = &body.ig_username {
        return ig_me_link(&body, username, secret.as_bytes(), expires_at).map_err(bad);
    }
    let Some(url) = body.url.as_deref() else {
        return Err(bad(
            "send `url` and the chat's person (WhatsApp: wa_id or user_id; Instagram: igsid), \
             or `ig_username` and `visitor_id`"
                .into(),
        ));
    };
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.len() > MAX_URL_LEN / 2
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(bad(format!(
            "url must be an absolute http(s) URL of at most {} bytes",
            MAX_URL_LEN / 2
        )));
    }
    let identity = match (&body.user_id, &body.wa_id, &body.igsid) {
        (Some(u), _, _) => {
            check_wa_id(u).map_err(|e| bad(format!("user_id: {e}")))?;
            IdentityKey::Whatsapp(u.clone())
        }
        (None, Some(w), _) => phone_key(w)
            .ok_or_else(|| bad("wa_id: must be the digits of a WhatsApp number".into()))?,
        (None, None, Some(i)) => {
            check_igsid(i).map_err(|e| bad(format!("igsid: {e}")))?;
            IdentityKey::Instagram(i.clone())
        }
        (None, None, None) => {
            return Err(bad(
                "name the chat's person: the WhatsApp user by wa_id or user_id, the Instagram user by igsid".into()
            ))
        }
    };
    let token = link::mint(secret.as_bytes(), &identity, expires_at);
    Ok(Response::from_json(&json!({
        "url": link::add_to_url(url, &token),
        "token": token,
        "expires_at": expires_at / 1000 * 1000,
    }))?)
}

fn ttl_ms(ttl_seconds: Option<i64>) -> std::result::Result<i64, String> {
    match ttl_seconds {
        None => Ok(DEFAULT_LINK_TTL_MS),
        Some(s) if s >= 1 && s.saturating_mul(1000) <= MAX_LINK_TTL_MS => Ok(s * 1000),
        Some(_) => Err(format!(
            "ttl_seconds must be 1 to {}",
            MAX_LINK_TTL_MS / 1000
        )),
    }
}

/// `https://ig.me/m/<username>?ref=<signed ref naming the visitor>`.
fn ig_me_link(
    body: &LinkBody,
    username: &str,
    secret: &[u8],
    expires_at: i64,
) -> std::result::Result<Response, String> {
    if body.url.is_some() || body.wa_id.is_some() || body.user_id.is_some() || body.igsid.is_some()
    {
        return Err("an ig.me link takes ig_username and visitor_id only".into());
    }
    if !link::is_ig_username(username) {
        return Err(
            "ig_username: must be an Instagram username (1 to 30 of A-Z a-z 0-9 . _)".into(),
        );
    }
    let visitor = body
        .visitor_id
        .as_deref()
        .ok_or("an ig.me link needs the visitor_id it joins")?;
    let r = link::mint_ig_ref(secret, visitor, expires_at)
        .ok_or("visitor_id: must be 1 to 64 of A-Z a-z 0-9 _ . -")?;
    Response::from_json(&json!({
        "url": link::ig_me_url(username, &r),
        "token": r,
        "expires_at": expires_at / 1000 * 1000,
    }))
    .map_err(|e| e.to_string())
}
