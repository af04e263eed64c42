//! Delivery: batch bodies under the collector's limits, sent with sendBeacon
//! when the page is hidden (it survives unload; fetch keepalive when the
//! browser refuses a beacon) and with fetch keepalive otherwise. Failed
//! bodies go to a bounded retry queue in localStorage; the core decides what
//! a response means and how long to wait.

use touchline_shared::delivery;
use touchline_shared::json::batch_body;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::RequestInit;

use crate::browser::{load, remove, save, window};

/// localStorage key of the retry queue (one event JSON per line).
pub const KEY_QUEUE: &str = "tl_q";
/// localStorage key of the count of events dropped from a full queue.
pub const KEY_DROPPED: &str = "tl_qd";

/// Packs events (JSON) into batch bodies; each is under `MAX_BODY_BYTES`
/// and `MAX_EVENTS_PER_BATCH`. Returns `(body, events in it)`.
pub fn bodies(events: Vec<String>, sent_at: f64) -> Vec<(String, Vec<String>)> {
    let sizes: Vec<usize> = events.iter().map(String::len).collect();
    delivery::pack(&sizes)
        .into_iter()
        .map(|r| {
            let group = events[r].to_vec();
            (batch_body(sent_at as i64, &group), group)
        })
        .collect()
}

/// Takes every event waiting in the retry queue.
pub fn take_queue() -> Vec<String> {
    let q = load(KEY_QUEUE)
        .map(|s| delivery::load_queue(&s))
        .unwrap_or_default();
    if !q.is_empty() {
        remove(KEY_QUEUE);
    }
    q
}

/// Puts events back into the retry queue (bounded; the oldest are dropped
/// and counted).
pub fn requeue(events: Vec<String>) {
    let mut q = load(KEY_QUEUE)
        .map(|s| delivery::load_queue(&s))
        .unwrap_or_default();
    let dropped = delivery::enqueue(&mut q, events);
    save(KEY_QUEUE, &delivery::store_queue(&q));
    if dropped > 0 {
        let before: u32 = load(KEY_DROPPED).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut s = String::new();
        touchline_shared::json::push_u64(&mut s, before.saturating_add(dropped) as u64);
        save(KEY_DROPPED, &s);
    }
}

/// True when events wait in the retry queue.
pub fn queued() -> bool {
    load(KEY_QUEUE).is_some_and(|s| !s.is_empty())
}

/// Sends one body. On hide, sendBeacon first; otherwise (or if refused) a
/// keepalive fetch, whose promise is returned (a beacon has no outcome).
pub fn send(endpoint: &str, body: &str, on_hide: bool) -> Option<Thenable> {
    let w = window()?;
    let nav = crate::browser::path("navigator");
    if on_hide
        && nav.is_object()
        && nav
            .unchecked_ref::<web_sys::Navigator>()
            .send_beacon_with_opt_str(endpoint, Some(body))
            .unwrap_or(false)
    {
        return None;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    // `keepalive` lets the request outlive the page; web-sys has no setter.
    let _ = js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE);
    Some(w.fetch_with_str_and_init(endpoint, &init).unchecked_into())
}

#[wasm_bindgen]
extern "C" {
    /// Any promise, seen only through `then(onFulfilled, onRejected)`.
    pub type Thenable;
    #[wasm_bindgen(method)]
    pub fn then(this: &Thenable, ok: &JsValue, err: &JsValue);
}
