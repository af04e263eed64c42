//! The tracker in a real browser (headless Chromium via wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]

use touchline_shared::limits::MAX_BODY_BYTES;
use touchline_shared::{EventData, ReferrerClass};
use touchline_tracker::{command, transport, Tracker};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing listens here: deliveries fail quietly, which is what we want.
const ENDPOINT: &str = "http://127.0.0.1:9/v1/collect";

fn set_url(query: &str) {
    let w = web_sys::window().expect("window");
    let path = w.location().pathname().expect("path");
    w.history()
        .expect("history")
        .replace_state_with_url(&JsValue::NULL, "", Some(&format!("{path}{query}")))
        .expect("replaceState");
}

fn storage() -> web_sys::Storage {
    web_sys::window()
        .expect("window")
        .local_storage()
        .expect("ls")
        .expect("ls")
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &JsValue::from_str(k), v).expect("set");
    }
    o.into()
}

#[wasm_bindgen_test]
fn page_view_carries_attribution_from_the_landing_url() {
    set_url("?utm_source=ig&utm_campaign=reel%20drop&igshid=abc123");
    let mut t = Tracker::new("demo", ENDPOINT);
    t.page_view();
    let e = t.pending().last().expect("an event").clone();
    let EventData::PageView(pv) = e.data else {
        panic!("not a page view: {:?}", e.data)
    };
    assert_eq!(pv.attribution.utm_campaign.as_deref(), Some("reel drop"));
    assert_eq!(pv.attribution.igshid.as_deref(), Some("abc123"));
    assert_eq!(
        pv.attribution.referrer_class,
        Some(ReferrerClass::Instagram)
    );
    assert!(e
        .url
        .ends_with("?utm_source=ig&utm_campaign=reel%20drop&igshid=abc123"));
    assert_eq!(e.site_id, "demo");
    assert_eq!(e.event_id.len(), 17);
    set_url("");
}

#[wasm_bindgen_test]
fn visitor_id_persists_across_trackers_and_renews_when_storage_is_cleared() {
    let a = Tracker::new("demo", ENDPOINT).visitor_id().to_owned();
    let b = Tracker::new("demo", ENDPOINT).visitor_id().to_owned();
    assert_eq!(a, b);
    assert_eq!(
        storage().get_item("tl_vid").expect("get").as_deref(),
        Some(a.as_str())
    );
    storage().remove_item("tl_vid").expect("remove");
    let c = Tracker::new("demo", ENDPOINT).visitor_id().to_owned();
    assert_ne!(a, c);
    assert_eq!(c.len(), 33);
}

#[wasm_bindgen_test]
fn events_share_the_session_and_number_themselves() {
    let mut t = Tracker::new("demo", ENDPOINT);
    t.page_view();
    t.command("checkout", obj(&[("step", "address".into())]));
    let p = t.pending();
    let (a, b) = (&p[p.len() - 2], &p[p.len() - 1]);
    assert_eq!(a.session_id, b.session_id);
    assert_eq!(b.seq, a.seq + 1);
    assert_ne!(a.event_id, b.event_id);
    assert!(matches!(&b.data, EventData::CheckoutStep(s) if s.step == "address"));
}

#[wasm_bindgen_test]
fn order_command_normalises_currency_and_payment() {
    let mut t = Tracker::new("demo", ENDPOINT);
    t.command(
        "order",
        obj(&[
            ("id", "ORD-1".into()),
            ("value", 1499.0.into()),
            ("currency", "inr".into()),
            ("payment", "COD".into()),
        ]),
    );
    let EventData::Order(o) = &t.pending().last().expect("order").data else {
        panic!("no order")
    };
    assert_eq!((o.order_id.as_str(), o.value), ("ORD-1", 1499.0));
    assert_eq!(o.currency, "INR");
    assert_eq!(o.payment_method.as_deref(), Some("cod"));
}

#[wasm_bindgen_test]
fn garbage_passed_to_every_public_call_throws_nothing() {
    let garbage = [
        JsValue::NULL,
        JsValue::UNDEFINED,
        JsValue::from(42),
        JsValue::from_str(""),
        JsValue::from_str("\u{0}\u{ffff}"),
        js_sys::Array::new().into(),
        obj(&[("id", JsValue::NULL), ("value", "lots".into())]),
        obj(&[("step", js_sys::Object::new().into())]),
    ];
    // Before start, after start, and with every command name.
    for name in ["order", "checkout", "page_view", "flush", "nonsense", ""] {
        for arg in &garbage {
            command(JsValue::from_str(name), arg.clone());
            command(arg.clone(), arg.clone());
        }
    }
    touchline_tracker::start("", "");
    touchline_tracker::start("demo", ENDPOINT);
    touchline_tracker::start("demo", ENDPOINT);
    for arg in &garbage {
        command(JsValue::from_str("order"), arg.clone());
        command(JsValue::from_str("checkout"), arg.clone());
    }
    let mut t = Tracker::new("demo", ENDPOINT);
    let before = t.pending().len();
    t.command(
        "order",
        obj(&[("id", JsValue::NULL), ("value", "lots".into())]),
    );
    assert_eq!(
        t.pending().len(),
        before,
        "a malformed order is not tracked"
    );
}

#[wasm_bindgen_test]
fn batches_are_split_under_the_body_limit_and_lose_nothing() {
    set_url(&format!("?pad={}", "x".repeat(1800)));
    let mut t = Tracker::new("demo", ENDPOINT);
    t.page_view();
    set_url("");
    let one = t.pending().last().expect("page view").clone();
    let events: Vec<_> = (0..120)
        .map(|i| {
            let mut e = one.clone();
            e.event_id = format!("e{i}");
            e
        })
        .collect();
    let bodies = transport::bodies(&events, js_sys::Date::now());
    assert!(bodies.len() >= 3, "{} bodies", bodies.len());
    let mut total = 0;
    for b in &bodies {
        assert!(b.len() <= MAX_BODY_BYTES, "{} bytes", b.len());
        let parsed = js_sys::JSON::parse(b).expect("valid JSON");
        let evs = js_sys::Reflect::get(&parsed, &"events".into()).expect("events");
        total += js_sys::Array::from(&evs).length() as usize;
    }
    assert_eq!(total, events.len());
}
