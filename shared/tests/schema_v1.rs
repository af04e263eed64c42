//! Golden fixtures for the wire schema, and validation of bad input.
mod common;

use serde_json::{json, Value};
use touchline_shared::limits::*;
use touchline_shared::validate::{validate_batch, validate_server_batch, BatchError};
use touchline_shared::Event;

const NOW: i64 = 1_764_052_400_000;

use common::fixtures;

fn fixture(kind: &str) -> Value {
    fixtures()
        .into_iter()
        .find(|(k, _)| k == kind)
        .expect("fixture")
        .1
}

fn batch(events: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "sent_at": NOW, "events": events })).expect("json")
}

fn reasons(events: Vec<Value>) -> Vec<(usize, String)> {
    let out = validate_batch(&batch(events), NOW).expect("a batch");
    out.rejected
        .into_iter()
        .map(|r| (r.index, r.reason))
        .collect()
}

fn single_reason(event: Value) -> String {
    let r = reasons(vec![event]);
    assert_eq!(r.len(), 1, "expected one rejection, got {r:?}");
    r[0].1.clone()
}

#[test]
fn every_kind_has_a_golden_fixture() {
    let kinds: Vec<String> = fixtures().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "checkout_step",
            "crm_stage",
            "custom",
            "engagement",
            "identify",
            "instagram",
            "instagram_inbound",
            "order",
            "order_status",
            "page_view",
            "paid_search",
            "pricing_view",
            "product_view",
            "scroll",
            "search",
            "whatsapp_click",
            "whatsapp_inbound"
        ]
    );
}

/// Kinds only servers may send (`POST /v1/events`, the WhatsApp and Instagram webhooks).
const SERVER_KINDS: [&str; 6] = [
    "crm_stage",
    "instagram",
    "instagram_inbound",
    "order_status",
    "paid_search",
    "whatsapp_inbound",
];

#[test]
fn server_only_kinds_are_refused_from_browsers_with_the_endpoint_to_use() {
    for kind in SERVER_KINDS {
        let reason = single_reason(fixture(kind));
        assert_eq!(
            reason,
            format!("data.kind: `{kind}` is accepted only from servers, on POST /v1/events"),
        );
    }
}

#[test]
fn every_golden_fixture_passes_server_side_validation() {
    let events: Vec<Value> = fixtures().into_iter().map(|(_, v)| v).collect();
    let n = events.len();
    let out = validate_server_batch(&batch(events), NOW).expect("batch");
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.accepted.len(), n);
}

#[test]
fn server_events_name_their_person_and_may_leave_out_page_and_session() {
    let body = serde_json::to_vec(&json!({ "events": [
        { "schema": 1, "site_id": "demo", "event_id": "o1", "ts": NOW,
          "person": { "phone": "+1 (555) 000-1111", "email": " Jane.Doe@Example.COM " },
          "data": { "kind": "order", "order_id": "ORD-9", "value": 10.0, "currency": "INR", "payment_method": "cod" } },
        { "schema": 1, "site_id": "demo", "event_id": "o2", "ts": NOW,
          "data": { "kind": "crm_stage", "stage": "won" } },
        { "schema": 1, "site_id": "demo", "event_id": "o3", "ts": NOW, "person": { "phone": "12" },
          "data": { "kind": "crm_stage", "stage": "won" } },
        { "schema": 1, "site_id": "demo", "event_id": "o4", "ts": NOW, "person": { "shoe": 42 },
          "data": { "kind": "crm_stage", "stage": "won" } },
        { "schema": 1, "site_id": "demo", "event_id": "o5", "ts": NOW, "visitor_id": "vabc",
          "person": { "wa_id": "15550001111" },
          "data": { "kind": "crm_stage", "stage": "won" } }
    ]}))
    .expect("json");
    let out = validate_server_batch(&body, NOW).expect("batch");
    let keys: Vec<Vec<String>> = out
        .accepted
        .iter()
        .map(|a| a.keys.iter().map(|k| k.as_key()).collect())
        .collect();
    assert_eq!(
        keys,
        [
            vec![
                "ph:beac9dfcfadbc799c464ab7a4f175b4a108b05412db10f8ad050c010444cbed9".to_string(),
                "em:86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d".to_string(),
            ],
            vec![
                "v:vabc".to_string(),
                "wa:15550001111".to_string(),
                "ph:beac9dfcfadbc799c464ab7a4f175b4a108b05412db10f8ad050c010444cbed9".to_string(),
            ],
        ]
    );
    let first = &out.accepted[0].accepted.event;
    assert_eq!(
        (
            first.visitor_id.as_str(),
            first.session_id.as_str(),
            first.url.as_str()
        ),
        ("server", "server", "urn:touchline:server")
    );
    let reasons: Vec<(usize, &str)> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].1.starts_with("person: name the person"),
        "{reasons:?}"
    );
    assert!(reasons[1].1.starts_with("person.phone:"), "{reasons:?}");
    assert!(reasons[2].1.contains("unknown field `shoe`"), "{reasons:?}");
}

#[test]
fn golden_fixtures_round_trip_in_both_directions() {
    for (kind, value) in fixtures() {
        let event: Event = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("{kind}: fixture does not parse: {e}"));
        assert_eq!(event.data.kind(), kind);
        let back = serde_json::to_value(&event).expect("serialise");
        assert_eq!(
            back, value,
            "{kind}: serialised form differs from the fixture"
        );
    }
}

#[test]
fn golden_fixtures_of_browser_kinds_pass_validation() {
    let events: Vec<Value> = fixtures()
        .into_iter()
        .filter(|(k, _)| !SERVER_KINDS.contains(&k.as_str()))
        .map(|(_, v)| v)
        .collect();
    let n = events.len();
    let out = validate_batch(&batch(events), NOW).expect("batch");
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.accepted.len(), n);
}

#[test]
fn client_clock_offset_is_corrected_with_sent_at() {
    let ev = fixture("order");
    let ts = ev["ts"].as_i64().expect("ts");
    // The client's clock runs 10 minutes slow: it sent the batch a second after
    // the event, at what the collector's clock calls 10 minutes later.
    let body = serde_json::to_vec(&json!({"sent_at": ts + 1_000, "events": [ev]})).expect("json");
    let out = validate_batch(&body, ts + 1_000 + 600_000).expect("batch");
    assert_eq!(out.accepted[0].time, ts + 600_000);
}

#[test]
fn transit_time_is_not_taken_for_a_wrong_clock() {
    let ev = fixture("page_view");
    let ts = ev["ts"].as_i64().expect("ts");
    let sent = |sent_at: i64, received: i64| {
        let body =
            serde_json::to_vec(&json!({"sent_at": sent_at, "events": [ev.clone()]})).expect("json");
        validate_batch(&body, received).expect("batch").accepted[0].time
    };
    // A beacon that took 3 s and a fetch that took 20 ms: both keep the
    // browser's own time, so one browser's events keep its order.
    assert_eq!(sent(ts + 100, ts + 3_100), ts);
    assert_eq!(sent(ts + 100, ts + 120), ts);
    // A clock ahead or behind by more than the tolerance is corrected.
    let limit = touchline_shared::limits::CLOCK_TOLERANCE_MS;
    assert_eq!(sent(ts, ts + limit), ts);
    assert_eq!(sent(ts, ts + limit + 1), ts + limit + 1);
    assert_eq!(sent(ts + 60_000, ts), ts - 60_000);
}

#[test]
fn a_mixed_batch_keeps_the_good_events_and_names_the_bad_ones() {
    let good = fixture("page_view");
    let mut bad = fixture("order");
    bad["data"]["currency"] = json!("rupees");
    let out = validate_batch(&batch(vec![good.clone(), bad, good]), NOW).expect("batch");
    assert_eq!(
        out.accepted.iter().map(|a| a.index).collect::<Vec<_>>(),
        [0, 2]
    );
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].index, 1);
    assert!(
        out.rejected[0].reason.starts_with("data.currency:"),
        "{}",
        out.rejected[0].reason
    );
}

#[test]
fn unknown_kind_is_rejected_with_its_path() {
    let mut ev = fixture("search");
    ev["data"]["kind"] = json!("teleport");
    let reason = single_reason(ev);
    assert!(
        reason.starts_with("data.kind: unknown variant `teleport`"),
        "{reason}"
    );
}

#[test]
fn unknown_field_is_rejected() {
    let mut ev = fixture("search");
    ev["data"]["shoe_size"] = json!(42);
    let reason = single_reason(ev);
    assert!(reason.contains("unknown field `shoe_size`"), "{reason}");
    let mut ev = fixture("search");
    ev["colour"] = json!("red");
    assert!(single_reason(ev).contains("unknown field `colour`"));
}

#[test]
fn missing_field_is_named() {
    let mut ev = fixture("product_view");
    ev["data"].as_object_mut().expect("obj").remove("sku");
    let reason = single_reason(ev);
    assert!(reason.contains("missing field `sku`"), "{reason}");
    let mut ev = fixture("product_view");
    ev.as_object_mut().expect("obj").remove("visitor_id");
    assert!(single_reason(ev).contains("missing field `visitor_id`"));
}

#[test]
fn wrong_type_is_named_with_its_path() {
    let mut ev = fixture("order");
    ev["data"]["value"] = json!("a lot");
    let reason = single_reason(ev);
    assert!(
        reason.starts_with("data.value:") && reason.contains("invalid type"),
        "{reason}"
    );
}

#[test]
fn strings_over_their_limit_are_rejected() {
    let mut ev = fixture("page_view");
    ev["url"] = json!(format!("https://shop.example/{}", "a".repeat(MAX_URL_LEN)));
    assert!(single_reason(ev).starts_with("url: is "));
    let mut ev = fixture("page_view");
    ev["visitor_id"] = json!("v".repeat(MAX_ID_LEN + 1));
    assert!(single_reason(ev).starts_with("visitor_id: must be 1 to 64"));
    let mut ev = fixture("search");
    ev["data"]["query"] = json!("q".repeat(MAX_TEXT_LEN + 1));
    assert!(single_reason(ev).starts_with("data.query: is 257 bytes"));
    let mut ev = fixture("page_view");
    ev["data"]["attribution"]["utm_campaign"] = json!("c".repeat(MAX_TEXT_LEN + 1));
    assert!(single_reason(ev).starts_with("data.attribution.utm_campaign:"));
}

#[test]
fn bad_values_are_rejected_with_reasons() {
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "page_view",
            "/schema",
            json!(2),
            "schema: version 2 is not supported",
        ),
        (
            "page_view",
            "/event_id",
            json!("has space"),
            "event_id: may hold only",
        ),
        (
            "page_view",
            "/url",
            json!("javascript:alert(1)"),
            "url: must be an absolute http(s) URL",
        ),
        (
            "page_view",
            "/ts",
            json!(NOW + 3_600_000),
            "ts: lies after the batch was sent",
        ),
        (
            "page_view",
            "/ts",
            json!(NOW - 8 * 86_400_000),
            "ts: is more than 7 days",
        ),
        (
            "scroll",
            "/data/depth_pct",
            json!(120),
            "data.depth_pct: must be 0 to 100",
        ),
        ("scroll", "/data/milestone", json!(90), "data.milestone:"),
        (
            "scroll",
            "/data/depth_pct",
            json!(-1),
            "data.depth_pct: invalid value",
        ),
        (
            "engagement",
            "/data/engaged_ms",
            json!(99_000),
            "data.engaged_ms: is more than total_ms",
        ),
        ("pricing_view", "/data/count_7d", json!(0), "data.count_7d:"),
        (
            "checkout_step",
            "/data/step",
            json!("Address Step"),
            "data.step: may hold only",
        ),
        (
            "order",
            "/data/value",
            json!(-5.0),
            "data.value: must be between",
        ),
        (
            "order",
            "/data/payment_method",
            json!(""),
            "data.payment_method: must be 1 to 32",
        ),
        (
            "whatsapp_click",
            "/data/reference",
            json!("x y"),
            "data.reference:",
        ),
        (
            "search",
            "/data/query",
            json!("   "),
            "data.query: must not be empty",
        ),
        (
            "identify",
            "/data/email_sha256",
            json!("alice@example.com"),
            "data.email_sha256: must be a SHA-256",
        ),
        ("custom", "/data/name", json!("Bad Name"), "data.name:"),
    ];
    for (kind, pointer, value, expected) in cases {
        let mut ev = fixture(kind);
        *ev.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")) = value;
        let reason = single_reason(ev);
        assert!(
            reason.starts_with(expected),
            "{kind}{pointer}: got {reason:?}, expected {expected:?}"
        );
    }
}

#[test]
fn identify_without_any_digest_is_rejected() {
    let mut ev = fixture("identify");
    ev["data"] = json!({"kind": "identify"});
    assert!(single_reason(ev).starts_with("data: identify needs"));
}

#[test]
fn events_past_the_batch_limit_are_rejected_one_by_one() {
    let ev = fixture("page_view");
    let events: Vec<Value> = (0..MAX_EVENTS_PER_BATCH + 3)
        .map(|i| {
            let mut e = ev.clone();
            e["event_id"] = json!(format!("e{i}"));
            e
        })
        .collect();
    let out = validate_batch(&batch(events), NOW).expect("batch");
    assert_eq!(out.accepted.len(), MAX_EVENTS_PER_BATCH);
    assert_eq!(
        out.rejected.iter().map(|r| r.index).collect::<Vec<_>>(),
        [
            MAX_EVENTS_PER_BATCH,
            MAX_EVENTS_PER_BATCH + 1,
            MAX_EVENTS_PER_BATCH + 2
        ]
    );
    assert!(out.rejected[0].reason.contains("more than 100 events"));
}

#[test]
fn bodies_that_are_not_batches_fail_whole() {
    let too_big = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(
        validate_batch(&too_big, NOW),
        Err(BatchError::TooLarge {
            size: MAX_BODY_BYTES + 1
        })
    );
    let cases: [(&[u8], &str); 5] = [
        (b"{\"events\": [", "EOF while parsing"),
        (b"not json", "expected ident"),
        (b"[]", "expected a batch: an object with `events`"),
        (b"{\"events\": 5}", "events: invalid type"),
        (b"{\"events\": [], \"extra\": 1}", "unknown field `extra`"),
    ];
    for (body, expected) in cases {
        match validate_batch(body, NOW) {
            Err(BatchError::Malformed(m)) => {
                assert!(m.contains(expected), "{m:?} lacks {expected:?}")
            }
            other => panic!("{other:?}"),
        }
    }
}
