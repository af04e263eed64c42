//! Ingest counters (bots filtered, requests rate-limited), per UTC day, in D1.
//! `GET /v1/stats` reads them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Date, Env, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config::require_api_key;
use crate::error::{respond, AppResult};

fn today() -> String {
    let ms = Date::now().as_millis() as i64;
    // Days since the epoch are enough to key a counter; shown as a date by the reader.
    (ms / 86_400_000).to_string()
}

/// Adds one to counter `kind` for today. Counting must never fail a request,
/// so errors are only logged.
pub async fn count(env: &Env, kind: &str) {
    let run = async {
        env.d1(bindings::DB)?
            .prepare(
                "INSERT INTO ingest_stats (day, kind, n) VALUES (?1, ?2, 1) \
                 ON CONFLICT (day, kind) DO UPDATE SET n = n + 1",
            )
            .bind(&[today().into(), kind.into()])?
            .run()
            .await?;
        Ok::<(), worker::Error>(())
    };
    if let Err(e) = run.await {
        worker::console_error!("ingest stats: {e}");
    }
}

#[derive(Serialize, Deserialize)]
struct Row {
    day: String,
    kind: String,
    n: i64,
}

/// `GET /v1/stats`: the counters of the last 30 days.
pub async fn get(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(get_inner(&req, &ctx).await)
}

async fn get_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    // Read before this handler's own D1 work allocates.
    let heap = crate::heap::counters();
    let rows: Vec<Row> = ctx
        .env
        .d1(bindings::DB)?
        .prepare("SELECT day, kind, n FROM ingest_stats ORDER BY day DESC, kind LIMIT 60")
        .all()
        .await?
        .results()?;
    let days: Vec<_> = rows
        .iter()
        .map(|r| {
            let day = r.day.parse::<i64>().unwrap_or(0) * 86_400_000;
            json!({ "day_start": day, "kind": r.kind, "count": r.n })
        })
        .collect();
    Ok(Response::from_json(&json!({
        "counters": days,
        "wasm_memory_bytes": wasm_memory_bytes(),
        "heap_live_bytes": heap.heap_live_bytes,
        "heap_peak_bytes": heap.heap_peak_bytes,
        "heap_allocs": heap.heap_allocs,
        "heap_frees": heap.heap_frees,
        "heap_reallocs": heap.heap_reallocs,
    }))?)
}

/// Size of this isolate's Wasm linear memory (the Rust heap and stack), for
/// telling a leak of ours from the host's own growth (RELIABILITY.md, Memory).
/// Linear memory only grows, so this is the high-water mark of the Rust heap;
/// what is live now is `heap_live_bytes` (heap.rs).
fn wasm_memory_bytes() -> f64 {
    use worker::js_sys::{Reflect, WebAssembly};
    use worker::wasm_bindgen::JsCast;
    let Ok(memory) = wasm_bindgen::memory().dyn_into::<WebAssembly::Memory>() else {
        return 0.0;
    };
    Reflect::get(&memory.buffer(), &"byteLength".into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}
