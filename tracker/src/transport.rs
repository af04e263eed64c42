//! Delivery decisions: batch bodies under the collector's limits and the
//! bounded retry queue (its stored form is the shared core's).

use alloc::string::String;
use alloc::vec::Vec;
use touchline_shared::delivery;
use touchline_shared::json::batch_body;

/// localStorage key of the retry queue (one event JSON per line).
pub const KEY_QUEUE: &str = "tl_q";
/// localStorage key of the count of events dropped from a full queue.
pub const KEY_DROPPED: &str = "tl_qd";

/// Packs events (JSON) into batch bodies; each is under `MAX_BODY_BYTES`
/// and `MAX_EVENTS_PER_BATCH`. Calls `send(body, its events one per line)`
/// for each, in order (a callback rather than a list of pairs: about 270
/// bytes less wasm).
pub fn bodies(events: &[String], sent_at: f64, mut send: impl FnMut(String, String)) {
    let mut sizes = Vec::new();
    for e in events {
        sizes.push(e.len());
    }
    delivery::pack(&sizes, |r| {
        let group = events.get(r).unwrap_or_default();
        send(
            batch_body(sent_at as i64, group),
            delivery::store_queue(group),
        );
    });
}
