//! The hand-written JSON writer (used by the wasm tracker) against serde_json
//! and the golden fixtures: the same events, the same documents.
#![cfg(feature = "validate")]
mod common;

use serde_json::Value;
use touchline_shared::json::batch_body;
use touchline_shared::validate::validate_batch;
use touchline_shared::Event;

/// Kinds only servers send (the webhook, `/v1/events`); the tracker's writer
/// never writes them, serde does on the edge.
const SERVER_KINDS: [&str; 6] = [
    "crm_stage",
    "instagram",
    "instagram_inbound",
    "order_status",
    "paid_search",
    "whatsapp_inbound",
];

/// The golden fixtures of every kind the tracker writes.
fn fixtures() -> Vec<(String, Value)> {
    let out: Vec<(String, Value)> = common::fixtures()
        .into_iter()
        .filter(|(name, _)| !SERVER_KINDS.contains(&name.as_str()))
        .collect();
    assert_eq!(out.len(), 11, "every browser kind has its fixture");
    out
}

/// Numbers compared by value (`1499` and `1499.0` are the same number).
fn normalise(v: Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalise(v))).collect()),
        v => v,
    }
}

#[test]
fn every_golden_fixture_is_written_exactly_as_serde_would() {
    for (kind, value) in fixtures() {
        let event: Event = serde_json::from_value(value.clone()).expect("fixture parses");
        let text = event.to_json();
        let back: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{kind}: {e}: {text}"));
        assert_eq!(normalise(back.clone()), normalise(value), "{kind}");
        let again: Event = serde_json::from_value(back).expect("parses as an event");
        assert_eq!(again, event, "{kind}");
    }
}

#[test]
fn awkward_text_survives_the_writer() {
    let (_, mut value) = fixtures()
        .into_iter()
        .find(|(k, _)| k == "search")
        .expect("search");
    value["data"]["query"] = Value::String("\"quoted\" \\ back\tslash ünï 🙂 \u{7f}".into());
    let event: Event = serde_json::from_value(value).expect("parses");
    let again: Event = serde_json::from_str(&event.to_json()).expect("writer output parses");
    assert_eq!(again, event);
}

#[test]
fn a_written_batch_is_accepted_by_the_collectors_validation() {
    let events: Vec<String> = fixtures()
        .into_iter()
        .map(|(_, v)| {
            serde_json::from_value::<Event>(v)
                .expect("parses")
                .to_json()
        })
        .collect();
    let body = batch_body(1_764_052_400_000, &events);
    let out = validate_batch(body.as_bytes(), 1_764_052_400_000).expect("a batch");
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.accepted.len(), events.len());
}
