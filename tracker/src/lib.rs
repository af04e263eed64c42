//! Touchline's browser tracker.
//!
//! A shell around the core: it reads the browser (location, storage, clocks,
//! lifecycle events), asks `touchline-shared` what that means, and delivers
//! batches to the collector. Every entry point swallows failure: the host page
//! must never see an exception from us, so problems degrade to "not tracked".
#![deny(missing_docs)]

mod browser;
mod listener;
mod tracker;
#[doc(hidden)]
pub mod transport;

use wasm_bindgen::prelude::*;

/// Talc instead of the default dlmalloc: about 5 KB less wasm for the same
/// job (single-threaded wasm, a heap that grows with the page's memory).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use tracker::{inspect, start_with, stop, Tracker};

/// Starts tracking on this page; called once by the loader (`t.js`).
///
/// `site` is the site id from the script tag's `data-site`, `endpoint` the
/// collector URL, `options` the script element (its `data-*` attributes are
/// the options) and `consent` a consent choice the page queued before the
/// wasm loaded. Does nothing when called twice or without a site id.
#[wasm_bindgen]
pub fn start(site: JsValue, endpoint: JsValue, options: JsValue, consent: JsValue) {
    if let (Some(site), Some(endpoint)) = (site.as_string(), endpoint.as_string()) {
        tracker::start(&site, &endpoint, options, consent);
    }
}

/// Runs one `touchline(name, arg)` command from the page (or the queue of
/// commands made before the wasm loaded). Unknown commands are ignored.
#[wasm_bindgen]
pub fn command(name: JsValue, arg: JsValue) {
    if let Some(name) = name.as_string() {
        tracker::with(|t| t.command(&name, arg));
    }
}
