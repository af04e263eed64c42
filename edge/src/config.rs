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

/// A secret or variable that must be set; 503 naming it otherwise.
pub fn secret(env: &Env, name: &str) -> Result<String, AppError> {
    env.var(name)
        .map(|v| v.to_string())
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            AppError::Unavailable(format!(
                "{name} is not configured: run `wrangler secret put {name}`"
            ))
        })
}

/// A secret that may be absent.
pub fn optional_secret(env: &Env, name: &str) -> Option<String> {
    secret(env, name).ok()
}

/// The site WhatsApp chats are recorded under.
pub fn whatsapp_site(env: &Env) -> String {
    optional_secret(env, bindings::WHATSAPP_SITE_ID)
        .or_else(|| sites(env).keys().next().cloned())
        .unwrap_or_else(|| "whatsapp".into())
}

/// `name`, else `fallback`; a 503 names `name` when neither is set.
pub fn secret_or(env: &Env, name: &str, fallback: &str) -> Result<String, AppError> {
    secret(env, name).or_else(|e| optional_secret(env, fallback).ok_or(e))
}

/// The site Instagram conversations are recorded under.
pub fn instagram_site(env: &Env) -> String {
    optional_secret(env, bindings::INSTAGRAM_SITE_ID).unwrap_or_else(|| whatsapp_site(env))
}

/// Checks `Authorization: Bearer <API_KEY>` in constant time.
pub fn require_api_key(req: &worker::Request, env: &Env) -> Result<(), AppError> {
    require_bearer(req, env, bindings::API_KEY)
}

/// Checks `Authorization: Bearer <secret named key_name>` in constant time.
pub fn require_bearer(req: &worker::Request, env: &Env, key_name: &str) -> Result<(), AppError> {
    let expected = secret(env, key_name)?;
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

use touchline_shared::sign::constant_time_eq;
