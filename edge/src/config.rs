//! Reading the Worker's configuration (wrangler.toml vars and secrets).

use touchline_shared::sites::Sites;
use worker::Env;

use crate::bindings;
use crate::error::AppError;

/// The configured sites (`[vars.SITES]`); none when missing or unreadable,
/// which makes every event fail with "unknown site" rather than a 500.
/// `SITES` may be a TOML table in wrangler.toml or a JSON string (e.g. from
/// `wrangler dev --var SITES:{...}` or a dashboard variable).
pub fn sites(env: &Env) -> Sites {
    let parsed = match env.var(bindings::SITES) {
        Ok(text) => serde_json::from_str::<Sites>(&text.to_string()).map_err(|e| e.to_string()),
        Err(_) => env
            .object_var::<Sites>(bindings::SITES)
            .map_err(|e| e.to_string()),
    };
    parsed.unwrap_or_else(|e| {
        worker::console_warn!("SITES is missing or invalid ({e}); no site can send events");
        Sites::new()
    })
}

/// Checks `Authorization: Bearer <API_KEY>` in constant time.
pub fn require_api_key(req: &worker::Request, env: &Env) -> Result<(), AppError> {
    let expected = env
        .var(bindings::API_KEY)
        .map(|v| v.to_string())
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            AppError::Unavailable(
                "API_KEY is not configured: run `wrangler secret put API_KEY`".into(),
            )
        })?;
    let given = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned))
        .ok_or(AppError::Unauthorized)?;
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Unauthorized)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
