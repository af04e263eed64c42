//! Touchline's edge collector: a Cloudflare Worker written with workers-rs.
//!
//! This file only builds the router; each route lives in `routes/`, the
//! Durable Object in `profile.rs`, the identity directory in `directory.rs`,
//! and every decision in `touchline-shared`.

mod bindings;
mod config;
mod derived;
mod directory;
mod error;
mod heap;
mod predict;
mod profile;
mod routes;
mod signals;
mod stats;
mod store;
mod touches;

pub use profile::Profile;

use worker::{
    event, Context, Env, MessageBatch, Method, Request, Response, Result, Router, ScheduleContext,
    ScheduledEvent,
};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // The webhook stores every message before it answers (nothing in
    // `wait_until`), so it needs no Context.
    if req.method() == Method::Post && req.path() == routes::webhook::PATH {
        return routes::webhook::post(req, env).await;
    }
    Router::new()
        .get("/health", routes::health::get)
        .get("/t.js", routes::tracker::script)
        .get("/t.wasm", routes::tracker::wasm)
        .post_async("/v1/collect", routes::collect::post)
        .options("/v1/collect", routes::collect::preflight)
        .post_async("/v1/events", routes::events::post)
        .get_async("/v1/journeys", routes::journeys::list)
        .get_async("/v1/journeys/:visitor_id", routes::journeys::get)
        .get_async("/v1/signals", routes::signals::list)
        .get_async("/v1/stats", stats::get)
        .post_async("/v1/signals/:id/resend", routes::signals::resend)
        .post_async("/v1/profiles/merge", routes::profiles::merge)
        .get_async("/v1/profiles/:id/timeline", routes::profiles::timeline)
        .delete_async("/v1/profiles/:id", routes::profiles::delete)
        .post_async("/v1/links", routes::links::post)
        .get_async("/v1/reports/funnel", routes::reports::funnel)
        .get_async("/v1/reports/campaigns", routes::reports::campaigns)
        .get_async("/v1/reports/cohorts", routes::reports::cohorts)
        .get_async(
            "/v1/reports/time-to-convert",
            routes::reports::time_to_convert,
        )
        .post_async("/v1/spend", routes::spend::post)
        // Predicted intent and friction (routes/predict.rs).
        .get_async("/v1/predictions", routes::predict::predictions)
        .get_async("/v1/friction", routes::predict::friction)
        .post_async("/v1/model/train", routes::predict::train)
        .get(routes::webhook::PATH, routes::webhook::verify)
        .get(routes::instagram::PATH, routes::instagram::verify)
        .post_async(routes::instagram::PATH, routes::instagram::post)
        .or_else_any_method("/*path", routes::not_found)
        .run(req, env)
        .await
}

/// Delivers intent signals to webhooks (and records dead letters).
#[event(queue)]
async fn queue(batch: MessageBatch<signals::Job>, env: Env, _ctx: Context) -> Result<()> {
    signals::consume(batch, env).await
}

/// Cron: re-queues signal deliveries whose queue message was lost, and
/// trains each site's intent model whose data changed.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match signals::redrive(&env).await {
        Ok(0) => {}
        Ok(n) => worker::console_log!("re-queued {n} signal deliveries"),
        Err(e) => worker::console_error!("redrive failed: {e}"),
    }
    predict::train_all(&env, worker::Date::now().as_millis() as i64).await;
}
