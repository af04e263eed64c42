//! `GET /health`: liveness, and which schema this collector speaks.

use serde_json::json;
use worker::{Request, Response, Result, RouteContext};

/// Answers `{"status":"ok","schema":1,"version":"…"}`.
pub fn get(_req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    Response::from_json(&json!({
        "status": "ok",
        "schema": touchline_shared::SCHEMA_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}
