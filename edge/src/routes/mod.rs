//! One module per route.

pub mod collect;
pub mod events;
pub mod health;
pub mod instagram;
pub mod journeys;
pub mod links;
pub mod meta_webhook;
pub mod predict;
pub mod profiles;
pub mod reports;
pub mod signals;
pub mod spend;
pub mod tracker;
pub mod webhook;

use worker::{Request, Response, Result, RouteContext};

use crate::error::{respond, AppError};

/// Checks a batch request before its body is read: a JSON or text content
/// type, and a declared length within `MAX_BODY_BYTES` (413 without reading).
pub fn check_batch_request(req: &Request) -> std::result::Result<(), AppError> {
    let content_type = req.headers().get("Content-Type")?.unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "text/plain" && mime != "application/json" {
        return Err(AppError::UnsupportedMediaType(format!(
            "Content-Type must be text/plain or application/json, not `{content_type}`"
        )));
    }
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<usize>().ok());
    match declared.filter(|l| *l > touchline_shared::limits::MAX_BODY_BYTES) {
        Some(size) => Err(touchline_shared::validate::BatchError::TooLarge { size }.into()),
        None => Ok(()),
    }
}

/// Any path no route claims (static assets are served before the Worker runs).
pub fn not_found(req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    respond(Err(AppError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    ))))
}

/// The answer to a batch: `{"accepted", "rejected", "duplicates"}`; 400 when
/// every event was rejected, else 200.
pub fn batch_response(
    accepted: usize,
    rejected: &[touchline_shared::validate::Rejection],
    duplicates: usize,
) -> crate::error::AppResult {
    let status = if accepted + duplicates == 0 && !rejected.is_empty() {
        400
    } else {
        200
    };
    let body =
        serde_json::json!({ "accepted": accepted, "rejected": rejected, "duplicates": duplicates });
    Ok(Response::from_json(&body)?.with_status(status))
}
