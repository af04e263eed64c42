//! Property tests: thousands of generated and mutated inputs per decoder.
//! Each must end in a value or a structured error, never a panic.
use proptest::prelude::*;
use serde_json::{json, Value};
use touchline_shared::identity::IdentityKey;
use touchline_shared::limits::{
    MAX_FUTURE_SKEW_MS, MAX_MESSAGE_TEXT_LEN, MAX_TEXT_LEN, MAX_WEBHOOK_MESSAGES,
};
use touchline_shared::link::{self, LinkError};
use touchline_shared::reference::{decorate_text, find_tokens, token_from_bytes};
use touchline_shared::rules::{default_rules, evaluate, Fact, Observed};
use touchline_shared::session::Session;
use touchline_shared::sign::{hub_signature, verify_hub_signature, SignatureError};
use touchline_shared::validate::{validate_batch, BatchError};
use touchline_shared::whatsapp::{parse_delivery, Delivery};
use touchline_shared::Attribution;

const NOW: i64 = 1_764_052_400_000;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn golden_batch() -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events");
    let mut events: Vec<Value> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.expect("entry").path()).expect("read"))
                .expect("json")
        })
        .collect();
    events.sort_by_key(|e| e["event_id"].as_str().map(String::from));
    json!({ "sent_at": NOW, "events": events })
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a random path of `v` with `new`.
fn mutate(v: &mut Value, path: &[usize], new: Value) {
    let Some((p, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(p % m.len()).cloned().expect("key");
            mutate(m.get_mut(&k).expect("value"), rest, new);
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            mutate(&mut a[p % n], rest, new);
        }
        _ => *v = new,
    }
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_batch_decoder(body in prop::collection::vec(any::<u8>(), 0..512)) {
        match validate_batch(&body, NOW) {
            Ok(out) => prop_assert!(out.accepted.len() + out.rejected.len() <= 100 + out.rejected.len()),
            Err(BatchError::Malformed(m)) => prop_assert!(!m.is_empty()),
            Err(BatchError::TooLarge { .. }) => prop_assert!(false, "small bodies are never too large"),
        }
    }

    #[test]
    fn mutated_golden_batches_keep_every_event_accounted_for(
        path in prop::collection::vec(any::<usize>(), 1..6),
        new in any_json(),
    ) {
        let mut batch = golden_batch();
        let n = batch["events"].as_array().map_or(0, Vec::len);
        mutate(&mut batch, &path, new);
        let body = serde_json::to_vec(&batch).expect("json");
        match validate_batch(&body, NOW) {
            Ok(out) => {
                let seen = out.accepted.len() + out.rejected.len();
                // Each event is either kept or rejected with a reason: none lost.
                if batch["events"].as_array().map_or(0, Vec::len) == n {
                    prop_assert_eq!(seen, n);
                }
                for r in &out.rejected {
                    prop_assert!(!r.reason.is_empty());
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn random_events_in_a_batch_get_a_verdict_each(events in prop::collection::vec(any_json(), 0..20)) {
        let body = serde_json::to_vec(&json!({ "events": events })).expect("json");
        let out = validate_batch(&body, NOW).expect("a batch");
        prop_assert_eq!(out.accepted.len() + out.rejected.len(), events.len());
    }

    #[test]
    fn attribution_parses_any_url_and_referrer(url in ".{0,200}", referrer in ".{0,200}") {
        let a = Attribution::from_landing(&url, &referrer);
        for v in [&a.utm_source, &a.utm_campaign, &a.utm_term, &a.fbclid, &a.ctwa_clid].into_iter().flatten() {
            prop_assert!(v.len() <= touchline_shared::limits::MAX_TEXT_LEN);
        }
    }

    #[test]
    fn reference_tokens_survive_any_surrounding_text(
        bytes in any::<[u8; 5]>(), before in ".{0,60}", after in ".{0,60}",
    ) {
        let token = token_from_bytes(&bytes);
        let text = decorate_text(&before, &token) + &after;
        prop_assert!(find_tokens(&text).contains(&token), "{} not found in {:?}", token, text);
        let _ = find_tokens(&before);
    }

    #[test]
    fn stored_sessions_parse_or_are_ignored(s in ".{0,40}") {
        if let Some(sess) = Session::parse(&s) {
            prop_assert!(!sess.id.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn rules_decide_on_any_history_without_panicking(
        facts in prop::collection::vec((0i64..10_000_000_000, 0u8..8, ".{0,20}"), 0..40),
    ) {
        let observed: Vec<Observed> = facts
            .iter()
            .enumerate()
            .map(|(i, (time, k, text))| Observed {
                event_id: format!("e{i}"),
                time: *time,
                fact: match k {
                    0 => Fact::PricingView,
                    1 => Fact::Order,
                    2 => Fact::CheckoutStep { step: "address".into() },
                    3 => Fact::Search { query: text.clone() },
                    4 => Fact::WhatsappText { text: text.clone() },
                    5 => Fact::PageView { new_session: true },
                    6 => Fact::ProductView { sku: text.clone() },
                    _ => Fact::PricingScroll { depth_pct: (*time % 101) as u8 },
                },
            })
            .collect();
        let rules = default_rules();
        for (i, e) in observed.iter().enumerate() {
            let d = evaluate(&rules, &observed[..i], e, &[], e.time);
            for f in d.fire {
                prop_assert!(!f.evidence.is_empty());
                prop_assert!(f.score.is_finite());
            }
        }
    }
}

/// A realistic WhatsApp Cloud API delivery: a CTWA text, a button reply, an
/// interactive reply, an unknown type, a status, a BSUID-only sender.
fn golden_delivery() -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "111111111111111", "changes": [
            { "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550009999", "phone_number_id": "222222222222222" },
                "contacts": [
                    { "profile": { "name": "Test User" }, "wa_id": "15550001111" },
                    { "profile": { "name": "Other" }, "user_id": "US.0000000000000000001" }
                ],
                "messages": [
                    { "from": "15550001111", "id": "wamid.P1", "timestamp": "1764052300", "type": "text",
                      "text": { "body": "Is COD available? [ref:tl-abcdefgh23]" },
                      "referral": { "source_url": "https://fb.me/TESTAD0001", "source_id": "333333333333333",
                        "source_type": "ad", "headline": "Kurtas", "body": "Festive", "media_type": "image",
                        "ctwa_clid": "TEST_CTWA_CLID_0001" } },
                    { "from": "15550001111", "id": "wamid.P2", "timestamp": 1764052310, "type": "button",
                      "button": { "text": "Yes", "payload": "YES" } },
                    { "from_user_id": "US.0000000000000000001", "id": "wamid.P3", "timestamp": "1764052320",
                      "type": "interactive", "interactive": { "type": "list_reply",
                        "list_reply": { "id": "kurta", "title": "Cotton kurta" } } },
                    { "from": "15550001111", "id": "wamid.P4", "timestamp": "1764052330", "type": "sticker",
                      "sticker": { "id": "1" } }
                ],
                "statuses": [{ "id": "wamid.OUT1", "status": "delivered", "timestamp": "1764052340" }]
            }},
            { "field": "message_template_status_update", "value": { "event": "APPROVED" } }
        ]}]
    })
}

/// Checks everything a parsed delivery promises to the edge.
fn check_delivery(d: &Delivery) -> Result<(), TestCaseError> {
    prop_assert!(d.messages.len() <= MAX_WEBHOOK_MESSAGES);
    for r in &d.skipped {
        prop_assert!(!r.is_empty());
    }
    for m in &d.messages {
        prop_assert!(m.time > 0 && m.time <= NOW + MAX_FUTURE_SKEW_MS);
        prop_assert!(!m.data.message_id.is_empty());
        prop_assert!(!m.data.wa.is_empty());
        prop_assert!(m
            .data
            .text
            .as_ref()
            .is_none_or(|t| t.len() <= MAX_MESSAGE_TEXT_LEN));
        prop_assert!(m
            .data
            .profile_name
            .as_ref()
            .is_none_or(|t| t.len() <= MAX_TEXT_LEN));
        let id = m.event_id();
        prop_assert!(id.len() == 35 && id.starts_with("wa-"), "{}", id);
        // Every stored message is findable: it always names its sender.
        prop_assert!(!m.identity_keys().is_empty());
        let _ = m.to_event("demo");
    }
    Ok(())
}

/// A link-token identity: a business-scoped user id or a phone hash.
fn link_identity() -> impl Strategy<Value = IdentityKey> {
    prop_oneof![
        "[A-Z]{2}\\.[0-9]{10,19}".prop_map(IdentityKey::Whatsapp),
        "[0-9a-f]{64}".prop_map(IdentityKey::Phone),
    ]
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_webhook_parser(body in prop::collection::vec(any::<u8>(), 0..512)) {
        match parse_delivery(&body, NOW) {
            Ok(d) => check_delivery(&d)?,
            Err(m) => prop_assert!(!m.is_empty()),
        }
    }

    #[test]
    fn mutated_webhook_deliveries_parse_to_a_delivery_or_a_reason(
        path in prop::collection::vec(any::<usize>(), 1..9),
        new in any_json(),
    ) {
        let mut v = golden_delivery();
        mutate(&mut v, &path, new);
        let body = serde_json::to_vec(&v).expect("json");
        match parse_delivery(&body, NOW) {
            Ok(d) => check_delivery(&d)?,
            Err(m) => prop_assert!(!m.is_empty()),
        }
    }

    #[test]
    fn webhook_bodies_with_one_byte_changed_fail_the_signature_and_never_panic_the_parser(
        at in any::<usize>(), byte in any::<u8>(),
    ) {
        let secret = b"app-secret";
        let mut body = serde_json::to_vec(&golden_delivery()).expect("json");
        let header = hub_signature(secret, &body);
        prop_assert_eq!(verify_hub_signature(secret, &body, Some(&header)), Ok(()));
        let i = at % body.len();
        prop_assume!(body[i] != byte);
        body[i] = byte;
        prop_assert_eq!(
            verify_hub_signature(secret, &body, Some(&header)),
            Err(SignatureError::Mismatch)
        );
        match parse_delivery(&body, NOW) {
            Ok(d) => check_delivery(&d)?,
            Err(m) => prop_assert!(!m.is_empty()),
        }
    }

    #[test]
    fn link_tokens_verify_and_any_one_byte_change_is_refused(
        identity in link_identity(),
        ttl_s in 1i64..(30 * 86_400),
        at in any::<usize>(),
        byte in 0x20u8..0x7f,
        how in 0u8..3,
    ) {
        let secret = b"link-secret";
        let token = link::mint(secret, &identity, NOW + ttl_s * 1000);
        prop_assert_eq!(link::verify(secret, &token, NOW), Ok(identity));
        let mut bytes = token.clone().into_bytes();
        let i = at % bytes.len();
        match how {
            0 => {
                prop_assume!(bytes[i] != byte);
                bytes[i] = byte;
            }
            1 => {
                bytes.remove(i);
            }
            _ => bytes.insert(i, byte),
        }
        let tampered = String::from_utf8(bytes).expect("ascii");
        prop_assert!(link::verify(secret, &tampered, NOW).is_err(), "{} accepted as {}", tampered, token);
        prop_assert_eq!(link::verify(b"other-secret", &token, NOW), Err(LinkError::Forged));
    }

    #[test]
    fn arbitrary_strings_are_never_valid_link_tokens(s in ".{0,300}", now in any::<i64>()) {
        prop_assert!(link::verify(b"link-secret", &s, now).is_err());
    }
}

/// A realistic Instagram messaging delivery: a click-to-Direct ad message, an
/// ig.me referral, an Icebreaker tap, a story reply, a read, an echo.
fn golden_ig_delivery() -> Value {
    let igsid = "990000000000001";
    json!({
        "object": "instagram",
        "entry": [{ "id": "17800000000000001", "time": 1764052300123_i64, "messaging": [
            { "sender": { "id": igsid }, "recipient": { "id": "17800000000000001" }, "timestamp": 1764052300000_i64,
              "message": { "mid": "IG.P1", "text": "Is this available? [ref:tl-abcdefgh23]",
                "referral": { "ref": "spring", "ad_id": "333333333333333", "source": "ADS", "type": "OPEN_THREAD",
                  "ads_context_data": { "ad_title": "Spring sale", "photo_url": "https://example.invalid/a.jpg" } } } },
            { "sender": { "id": igsid }, "timestamp": 1764052310000_i64,
              "referral": { "ref": "poster-mumbai", "source": "IGME-SOURCE-LINK", "type": "OPEN_THREAD" } },
            { "sender": { "id": igsid }, "timestamp": 1764052320000_i64,
              "postback": { "title": "Ship to Pune?", "payload": "SHIP", "referral": { "ref": "bio" } } },
            { "sender": { "id": igsid }, "timestamp": 1764052330000_i64,
              "message": { "mid": "IG.P4", "text": "love it", "reply_to": { "story": { "id": "179", "url": "https://x.invalid" } } } },
            { "sender": { "id": igsid }, "timestamp": 1764052340000_i64, "read": { "mid": "IG.P1" } },
            { "sender": { "id": "17800000000000001" }, "timestamp": 1764052350000_i64,
              "message": { "mid": "IG.E1", "text": "reply", "is_echo": true } }
        ]}]
    })
}

/// Everything a parsed Instagram delivery promises to the edge, including that
/// each event it yields is one the schema's own validation accepts.
fn check_ig_delivery(d: &touchline_shared::instagram::Delivery) -> Result<(), TestCaseError> {
    use touchline_shared::limits::MAX_IG_MESSAGING_EVENTS;
    prop_assert!(d.events.len() <= MAX_IG_MESSAGING_EVENTS);
    for r in d.reasons() {
        prop_assert!(!r.is_empty());
    }
    for m in &d.events {
        prop_assert!(m.time > 0 && m.time <= NOW + MAX_FUTURE_SKEW_MS);
        let id = m.event_id();
        prop_assert!(id.len() == 35 && id.starts_with("ig-"), "{}", id);
        let keys = m.identity_keys(Some(b"link-secret"), NOW);
        prop_assert!(matches!(keys.first(), Some(IdentityKey::Instagram(_))));
        prop_assert!(keys.iter().all(|k| k.check().is_ok()), "{:?}", keys);
        let e = m.to_event("demo");
        let batch = serde_json::to_vec(&json!({ "sent_at": m.time, "events": [e] })).expect("json");
        let out = touchline_shared::validate::validate_server_batch(&batch, m.time).expect("batch");
        prop_assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_instagram_parser(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(d) = touchline_shared::instagram::parse_delivery(&body, NOW) {
            check_ig_delivery(&d)?;
        }
    }

    #[test]
    fn mutated_instagram_deliveries_yield_only_valid_events_or_a_reason(
        path in prop::collection::vec(any::<usize>(), 1..9),
        new in any_json(),
    ) {
        let mut v = golden_ig_delivery();
        mutate(&mut v, &path, new);
        let body = serde_json::to_vec(&v).expect("json");
        match touchline_shared::instagram::parse_delivery(&body, NOW) {
            Ok(d) => check_ig_delivery(&d)?,
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn ig_me_refs_verify_and_any_one_byte_change_is_refused(
        visitor in "[A-Za-z0-9_.-]{1,64}", at in any::<usize>(), byte in any::<u8>(),
    ) {
        let secret = b"link-secret";
        let r = link::mint_ig_ref(secret, &visitor, NOW + 60_000).expect("ref");
        prop_assert!(r.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-=".contains(&b)));
        prop_assert_eq!(link::verify_ig_ref(secret, &r, NOW), Ok(IdentityKey::Visitor(visitor.clone())));
        let mut bytes = r.clone().into_bytes();
        let i = at % bytes.len();
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(changed) = String::from_utf8(bytes) {
            prop_assert!(link::verify_ig_ref(secret, &changed, NOW).is_err(), "{}", changed);
        }
    }
}
