//! Delivery: JSON bodies under the collector's size limit, sent with
//! sendBeacon on page hide (it survives unload) and fetch keepalive otherwise.

use serde::Serialize;
use touchline_shared::limits::MAX_BODY_BYTES;
use touchline_shared::Event;
use wasm_bindgen::JsValue;
use web_sys::RequestInit;

use crate::browser::window;

/// Room kept for `{"sent_at":…,"events":[]}` around the events.
const ENVELOPE_BYTES: usize = 64;

/// One event as JSON text, through the browser's own JSON.stringify (no
/// serde_json or float formatting in the wasm).
fn to_json(event: &Event) -> Option<String> {
    let value = event
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()?;
    js_sys::JSON::stringify(&value).ok()?.as_string()
}

/// Packs events into batch bodies, each under `MAX_BODY_BYTES`. An event too
/// large on its own is dropped (the collector would refuse it anyway).
pub fn bodies(events: &[Event], sent_at: f64) -> Vec<String> {
    let head = format!("{{\"sent_at\":{},\"events\":[", sent_at as i64);
    let mut out = Vec::new();
    let mut body = head.clone();
    for json in events.iter().filter_map(to_json) {
        if head.len() + json.len() + ENVELOPE_BYTES > MAX_BODY_BYTES {
            continue;
        }
        if body.len() + json.len() + ENVELOPE_BYTES > MAX_BODY_BYTES {
            body.push_str("]}");
            out.push(std::mem::replace(&mut body, head.clone()));
        }
        if body.len() > head.len() {
            body.push(',');
        }
        body.push_str(&json);
    }
    if body.len() > head.len() {
        body.push_str("]}");
        out.push(body);
    }
    out
}

/// Sends one body as `text/plain` (a CORS-simple request: no preflight).
pub fn send(endpoint: &str, body: String, on_hide: bool) {
    let Some(w) = window() else { return };
    if on_hide
        && w.navigator()
            .send_beacon_with_opt_str(endpoint, Some(&body))
            .unwrap_or(false)
    {
        return;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    // `keepalive` lets the request outlive the page; web-sys has no stable setter.
    let _ = js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE);
    let promise = w.fetch_with_str_and_init(endpoint, &init);
    // Delivery failures are not the page's problem: await and swallow them.
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    });
}
