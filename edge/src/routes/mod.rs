//! One module per route.

pub mod collect;
pub mod events;
pub mod health;
pub mod journeys;
pub mod links;
pub mod profiles;
pub mod reports;
pub mod signals;
pub mod spend;
pub mod tracker;
pub mod webhook;

use worker::{Request, Response, Result, RouteContext};

use crate::error::{respond, AppError};

/// Any path no route claims (static assets are served before the Worker runs).
pub fn not_found(req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    respond(Err(AppError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    ))))
}
