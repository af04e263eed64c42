//! What Meta's webhooks (WhatsApp, Instagram) share: the GET verification
//! handshake and the signed POST body (`X-Hub-Signature-256`, HMAC-SHA256 of
//! the raw body under the app secret), checked before anything is parsed.

use touchline_shared::limits::MAX_WEBHOOK_BODY_BYTES;
use touchline_shared::sign::verify_hub_signature;
use touchline_shared::whatsapp::verify_subscription;
use worker::{Request, Response};

use crate::error::{AppError, AppResult};

/// Answers the handshake: 200 with `hub.challenge` when `hub.mode=subscribe`
/// and `hub.verify_token` equals `configured`, else 403.
pub fn handshake(req: &Request, configured: &str) -> AppResult {
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
        configured,
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

/// Reads the body (413 over `MAX_WEBHOOK_BODY_BYTES`, by its declared length
/// first) and checks its signature under `secret` (401 when missing or wrong).
pub async fn signed_body(req: &mut Request, secret: &str, what: &str) -> Result<Vec<u8>, AppError> {
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
        worker::console_warn!("{what} webhook refused: {e}");
        return Err(AppError::BadSignature(e.to_string()));
    }
    Ok(body)
}
