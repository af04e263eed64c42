//! The WhatsApp Cloud API webhook: its verification handshake and the inbound
//! messages of a delivery, turned into `whatsapp_inbound` events.
//!
//! Meta's payloads grow new fields and message types over time, so reading is
//! lenient below the envelope: unknown fields are ignored, unknown message types
//! become `other`, and a message that cannot be used (no id) is skipped with a
//! reason instead of failing the whole delivery (which Meta would retry for days).

use serde_json::Value;

use crate::attribution::truncate;
use crate::identity::{check_wa_id, normalize_phone, sha256_hex, whatsapp_keys, IdentityKey};
use crate::limits::*;
use crate::reference::find_tokens;
use crate::schema::{CtwaReferral, Event, EventData, WhatsappInbound, SCHEMA_VERSION};

/// The `object` of WhatsApp Business Account deliveries.
pub const OBJECT: &str = "whatsapp_business_account";
/// Session id given to chat events (they have no web session).
pub const SESSION_ID: &str = "whatsapp";

/// Decides the GET handshake: `Some(challenge)` to echo with 200, else `None` (403).
pub fn verify_subscription(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    configured_token: &str,
) -> Option<String> {
    let token = token?;
    let ok = mode == Some("subscribe")
        && !configured_token.is_empty()
        && crate::sign::constant_time_eq(token.as_bytes(), configured_token.as_bytes());
    let challenge = challenge.unwrap_or("");
    (ok && challenge.len() <= MAX_CHALLENGE_LEN).then(|| challenge.to_owned())
}

/// One inbound message, read from a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// Message time, ms since the epoch (Meta's `timestamp`, or the receive time).
    pub time: i64,
    /// Business display number (for the event's URL).
    pub display_phone_number: Option<String>,
    /// The message as a timeline event.
    pub data: WhatsappInbound,
}

/// What a delivery held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Delivery {
    /// The `object` field (only WhatsApp deliveries carry messages we read).
    pub object: String,
    /// Inbound messages, in delivery order.
    pub messages: Vec<Inbound>,
    /// Status updates of messages the business sent (counted, not stored).
    pub statuses: usize,
    /// Why some messages or changes were not read.
    pub skipped: Vec<String>,
}

/// Parses a delivery received at `now_ms`. Only a body that is not a JSON
/// object with `object` and an `entry` array is an error (HTTP 400).
pub fn parse_delivery(body: &[u8], now_ms: i64) -> Result<Delivery, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let object = v
        .get("object")
        .and_then(Value::as_str)
        .ok_or("body has no `object` string")?;
    let entries = v
        .get("entry")
        .and_then(Value::as_array)
        .ok_or("body has no `entry` array")?;
    let mut d = Delivery {
        object: object.to_owned(),
        ..Delivery::default()
    };
    if object != OBJECT {
        d.skipped
            .push(format!("object `{object}` is not {OBJECT}; ignored"));
        return Ok(d);
    }
    for (ei, entry) in entries.iter().enumerate() {
        let changes = entry.get("changes").and_then(Value::as_array);
        for (ci, change) in changes.into_iter().flatten().enumerate() {
            let field = change.get("field").and_then(Value::as_str).unwrap_or("");
            if field != "messages" {
                d.skipped.push(format!(
                    "entry[{ei}].changes[{ci}]: field `{field}` ignored"
                ));
                continue;
            }
            let Some(value) = change.get("value") else {
                continue;
            };
            read_value(
                value,
                &format!("entry[{ei}].changes[{ci}].value"),
                now_ms,
                &mut d,
            );
        }
    }
    Ok(d)
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn read_value(value: &Value, path: &str, now_ms: i64, d: &mut Delivery) {
    let metadata = value.get("metadata");
    let phone_number_id = metadata
        .and_then(|m| s(m, "phone_number_id"))
        .filter(|p| crate::validate::id("", p).is_ok())
        .map(str::to_owned);
    let display = metadata
        .and_then(|m| s(m, "display_phone_number"))
        .and_then(normalize_phone);
    let contacts: &[Value] = value
        .get("contacts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    d.statuses += value
        .get("statuses")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let messages = value.get("messages").and_then(Value::as_array);
    for (mi, m) in messages.into_iter().flatten().enumerate() {
        let at = format!("{path}.messages[{mi}]");
        if d.messages.len() >= MAX_WEBHOOK_MESSAGES {
            d.skipped.push(format!(
                "{at}: more than {MAX_WEBHOOK_MESSAGES} messages in one delivery"
            ));
            continue;
        }
        match read_message(m, contacts, now_ms) {
            Ok(mut data) => {
                data.phone_number_id = phone_number_id.clone();
                let time = message_time(m, now_ms);
                d.messages.push(Inbound {
                    time,
                    display_phone_number: display.clone(),
                    data,
                });
            }
            Err(reason) => d.skipped.push(format!("{at}: {reason}")),
        }
    }
}

/// Meta's `timestamp` (unix seconds, a string; a number is accepted too). A
/// missing, unreadable or future time becomes the receive time.
fn message_time(m: &Value, now_ms: i64) -> i64 {
    let secs = match m.get("timestamp") {
        Some(Value::String(t)) => t.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    match secs.and_then(|s| s.checked_mul(1000)) {
        Some(ms) if ms > 0 && ms <= now_ms.saturating_add(MAX_FUTURE_SKEW_MS) => ms,
        _ => now_ms,
    }
}

/// Drops control characters (keeping newlines and tabs) and cuts to `max`
/// bytes: Meta's texts are kept, never refused for their content.
pub(crate) fn clean(text: &str, max: usize) -> String {
    let t: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    truncate(t, max)
}

/// Drops every control character and cuts to `max` bytes: for one-line
/// fields (names, ids, referral sources and titles), which the schema keeps
/// free of them, tabs and newlines included.
pub(crate) fn clean_line(text: &str, max: usize) -> String {
    let t: String = text.chars().filter(|c| !c.is_control()).collect();
    truncate(t, max)
}

fn read_message(m: &Value, contacts: &[Value], _now_ms: i64) -> Result<WhatsappInbound, String> {
    let message_id = s(m, "id").ok_or("message has no `id`; skipped")?;
    if message_id.len() > MAX_WAMID_LEN || message_id.chars().any(char::is_control) {
        return Err(format!(
            "message id is not a wamid of at most {MAX_WAMID_LEN} bytes"
        ));
    }
    let from = s(m, "from").and_then(normalize_phone);
    let from_user = s(m, "from_user_id").filter(|u| check_wa_id(u).is_ok());
    // The contact for this sender: matched by wa_id or user id, else the only one.
    let contact = contacts
        .iter()
        .find(|c| {
            (from.is_some() && s(c, "wa_id").and_then(normalize_phone) == from)
                || (from_user.is_some() && s(c, "user_id") == from_user)
        })
        .or(if contacts.len() == 1 {
            contacts.first()
        } else {
            None
        });
    let wa_id = from.or_else(|| {
        contact
            .and_then(|c| s(c, "wa_id"))
            .and_then(normalize_phone)
    });
    let user_id = from_user
        .or_else(|| {
            contact
                .and_then(|c| s(c, "user_id"))
                .filter(|u| check_wa_id(u).is_ok())
        })
        .map(str::to_owned);
    let wa = user_id
        .clone()
        .or_else(|| wa_id.clone())
        .ok_or("message names no sender (no from, from_user_id, wa_id or user_id); skipped")?;
    let profile_name = contact
        .and_then(|c| c.get("profile"))
        .and_then(|p| s(p, "name"))
        .map(|n| clean_line(n, MAX_TEXT_LEN));
    let kind = s(m, "type").unwrap_or("unknown");
    let (message_type, text) = match kind {
        "text" => ("text", m.get("text").and_then(|t| s(t, "body"))),
        "button" => ("button", m.get("button").and_then(|b| s(b, "text"))),
        "interactive" => {
            let i = m.get("interactive");
            let reply = i
                .and_then(|i| i.get("button_reply").or_else(|| i.get("list_reply")))
                .and_then(|r| s(r, "title"));
            ("interactive", reply)
        }
        _ => ("other", None),
    };
    let original_type = (message_type == "other").then(|| {
        let slug: String = kind
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .take(MAX_SLUG_LEN)
            .collect();
        if slug.is_empty() {
            "unknown".to_owned()
        } else {
            slug
        }
    });
    Ok(WhatsappInbound {
        message_id: message_id.to_owned(),
        wa,
        wa_id,
        user_id,
        profile_name,
        message_type: message_type.to_owned(),
        original_type,
        text: text.map(|t| clean(t, MAX_MESSAGE_TEXT_LEN)),
        referral: m.get("referral").and_then(read_referral),
        phone_number_id: None,
    })
}

fn read_referral(r: &Value) -> Option<CtwaReferral> {
    let source_id = s(r, "source_id")?;
    let text = |k: &str| s(r, k).map(|v| clean(v, MAX_TEXT_LEN));
    Some(CtwaReferral {
        source_id: clean_line(source_id, MAX_TEXT_LEN),
        source_type: s(r, "source_type").map(|v| clean_line(v, MAX_SLUG_LEN)),
        source_url: s(r, "source_url")
            .filter(|u| u.contains(':'))
            .map(|v| clean_line(v, MAX_URL_LEN)),
        headline: text("headline"),
        body: text("body"),
        media_type: text("media_type"),
        ctwa_clid: text("ctwa_clid"),
    })
}

impl Inbound {
    /// Id of the timeline event: derived from the wamid, so Meta's retries and
    /// duplicate deliveries land on the same id and are stored once.
    pub fn event_id(&self) -> String {
        let h = sha256_hex(self.data.message_id.as_bytes());
        format!("wa-{}", &h[..32])
    }

    /// The message as a timeline event of `site_id`.
    pub fn to_event(&self, site_id: &str) -> Event {
        let url = match &self.display_phone_number {
            Some(n) => format!("https://wa.me/{n}"),
            None => "https://wa.me/".to_owned(),
        };
        Event {
            schema: SCHEMA_VERSION,
            site_id: site_id.to_owned(),
            visitor_id: format!("wa-{}", self.data.wa),
            session_id: SESSION_ID.to_owned(),
            event_id: self.event_id(),
            ts: self.time,
            seq: 0,
            url,
            referrer: None,
            data: EventData::WhatsappInbound(self.data.clone()),
        }
    }

    /// Identities this message links: the sender's WhatsApp keys, and every
    /// reference token found in its text (which the tracker's click links to a
    /// visitor).
    pub fn identity_keys(&self) -> Vec<IdentityKey> {
        let mut keys = whatsapp_keys(self.data.user_id.as_deref(), self.data.wa_id.as_deref());
        if let Some(t) = &self.data.text {
            keys.extend(find_tokens(t).into_iter().map(IdentityKey::Reference));
        }
        keys.truncate(MAX_IDENTITIES_PER_LINK);
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_500_000;

    fn delivery(messages: Value, contacts: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "111111111111111", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550009999", "phone_number_id": "222222222222222" },
                "contacts": contacts,
                "messages": messages
            }}]}]
        }))
        .expect("json")
    }

    fn contact() -> Value {
        json!([{ "profile": { "name": "Test User" }, "wa_id": "15550001111" }])
    }

    #[test]
    fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
        let ok = verify_subscription(Some("subscribe"), Some("tok"), Some("12ab-x"), "tok");
        assert_eq!(ok.as_deref(), Some("12ab-x"));
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("no"), Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(None, Some("tok"), Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), None, Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_subscription(Some("subscribe"), Some(""), Some("1"), ""),
            None
        );
        let long = "9".repeat(MAX_CHALLENGE_LEN + 1);
        assert_eq!(
            verify_subscription(Some("subscribe"), Some("tok"), Some(&long), "tok"),
            None
        );
    }

    #[test]
    fn a_text_message_with_a_ctwa_referral_becomes_an_attributed_inbound_event() {
        let body = delivery(
            json!([{ "from": "15550001111", "id": "wamid.TEST_IN_0006", "timestamp": "1700000300",
                "type": "text", "text": { "body": "Hi! I'd like to know more about this." },
                "referral": { "source_url": "https://fb.me/TESTAD0001", "source_id": "333333333333333",
                    "source_type": "ad", "body": "Spring sale", "headline": "Chat with us",
                    "media_type": "image", "image_url": "https://example.invalid/a.jpg",
                    "ctwa_clid": "TEST_CTWA_CLID_0001", "welcome_message": { "text": "Hi!" } } }]),
            contact(),
        );
        let d = parse_delivery(&body, NOW).expect("delivery");
        assert_eq!(d.messages.len(), 1, "{:?}", d.skipped);
        let m = &d.messages[0];
        assert_eq!(m.time, 1_700_000_300_000);
        assert_eq!(m.data.wa, "15550001111");
        assert_eq!(m.data.profile_name.as_deref(), Some("Test User"));
        assert_eq!(m.data.message_type, "text");
        assert_eq!(m.data.phone_number_id.as_deref(), Some("222222222222222"));
        let r = m.data.referral.as_ref().expect("referral");
        assert_eq!(r.source_id, "333333333333333");
        assert_eq!(r.ctwa_clid.as_deref(), Some("TEST_CTWA_CLID_0001"));
        assert_eq!(r.headline.as_deref(), Some("Chat with us"));
        let e = m.to_event("demo");
        assert_eq!(e.url, "https://wa.me/15550009999");
        assert!(crate::validate::id("event_id", &e.event_id).is_ok());
        // The stored form passes the schema's own validation, as a server event.
        let batch = serde_json::to_vec(&json!({ "sent_at": NOW, "events": [e] })).expect("json");
        let out = crate::validate::validate_server_batch(&batch, NOW).expect("batch");
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    }

    #[test]
    fn tabs_and_newlines_in_one_line_fields_are_dropped_so_the_event_is_valid() {
        let body = delivery(
            json!([{ "from": "15550001111", "id": "wamid.TEST_IN_TAB", "timestamp": "1700000300",
                "type": "text", "text": { "body": "line one\nline two\ttabbed" },
                "referral": { "source_url": "https://fb.me/TEST\tAD", "source_id": "3333\n33",
                    "source_type": "a\td", "headline": "Chat\twith us" } }]),
            json!([{ "profile": { "name": "Test\tUser" }, "wa_id": "15550001111" }]),
        );
        let d = parse_delivery(&body, NOW).expect("delivery");
        let m = &d.messages[0];
        // Message texts keep their tabs and newlines; one-line fields do not.
        assert_eq!(m.data.text.as_deref(), Some("line one\nline two\ttabbed"));
        assert_eq!(m.data.profile_name.as_deref(), Some("TestUser"));
        let r = m.data.referral.as_ref().expect("referral");
        assert_eq!(r.source_id, "333333");
        assert_eq!(r.source_type.as_deref(), Some("ad"));
        assert_eq!(r.source_url.as_deref(), Some("https://fb.me/TESTAD"));
        assert_eq!(r.headline.as_deref(), Some("Chat\twith us"));
        let batch = serde_json::to_vec(&json!({ "sent_at": NOW, "events": [m.to_event("demo")] }))
            .expect("json");
        let out = crate::validate::validate_server_batch(&batch, NOW).expect("batch");
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    }

    #[test]
    fn button_interactive_and_unknown_types_are_all_kept() {
        let body = delivery(
            json!([
                { "from": "15550001111", "id": "wamid.B", "timestamp": "1700000120", "type": "button",
                  "button": { "text": "Yes, book it", "payload": "BOOK" } },
                { "from": "15550001111", "id": "wamid.I", "timestamp": "1700000180", "type": "interactive",
                  "interactive": { "type": "list_reply", "list_reply": { "id": "s", "title": "09:30" } } },
                { "from": "15550001111", "id": "wamid.U", "timestamp": "1700000240", "type": "unsupported",
                  "errors": [{ "code": 131051 }] },
                { "from": "15550001111", "id": "wamid.S", "timestamp": 1700000250, "type": "Sticker!" }
            ]),
            contact(),
        );
        let d = parse_delivery(&body, NOW).expect("delivery");
        let got: Vec<(&str, Option<&str>, Option<&str>)> = d
            .messages
            .iter()
            .map(|m| {
                (
                    m.data.message_type.as_str(),
                    m.data.text.as_deref(),
                    m.data.original_type.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("button", Some("Yes, book it"), None),
                ("interactive", Some("09:30"), None),
                ("other", None, Some("unsupported")),
                ("other", None, Some("sticker")),
            ]
        );
        assert_eq!(d.messages[3].time, 1_700_000_250_000);
    }

    #[test]
    fn bsuid_only_senders_are_keyed_by_their_business_scoped_id() {
        let body = delivery(
            json!([{ "from_user_id": "US.0000000000000000001", "id": "wamid.X", "timestamp": "1700000000",
                     "type": "text", "text": { "body": "hello [ref:tl-3f9a2c1b7d]" } }]),
            json!([{ "profile": { "name": "Anon" }, "user_id": "US.0000000000000000001" }]),
        );
        let d = parse_delivery(&body, NOW).expect("delivery");
        let m = &d.messages[0];
        assert_eq!(m.data.wa, "US.0000000000000000001");
        assert_eq!(m.data.wa_id, None);
        assert_eq!(
            m.identity_keys(),
            [
                IdentityKey::Whatsapp("US.0000000000000000001".into()),
                IdentityKey::Reference("tl-3f9a2c1b7d".into())
            ]
        );
    }

    #[test]
    fn statuses_unknown_fields_and_unusable_messages_are_skipped_not_fatal() {
        let body = serde_json::to_vec(&json!({
            "object": "whatsapp_business_account",
            "entry": [{ "changes": [
                { "field": "messages", "value": { "statuses": [{ "id": "wamid.O", "status": "read" }] } },
                { "field": "account_update", "value": {} },
                { "field": "messages", "value": { "messages": [
                    { "from": "15550001111", "type": "text", "text": { "body": "no id" } },
                    { "id": "wamid.N", "type": "text", "text": { "body": "no sender" } }
                ] } }
            ]}]
        }))
        .expect("json");
        let d = parse_delivery(&body, NOW).expect("delivery");
        assert!(d.messages.is_empty());
        assert_eq!(d.statuses, 1);
        assert_eq!(d.skipped.len(), 3, "{:?}", d.skipped);
    }

    #[test]
    fn malformed_deliveries_are_errors() {
        assert!(parse_delivery(b"{not json", NOW).is_err());
        assert!(parse_delivery(b"[]", NOW).is_err());
        assert!(parse_delivery(br#"{"object":"whatsapp_business_account"}"#, NOW).is_err());
        let other = parse_delivery(br#"{"object":"instagram","entry":[]}"#, NOW).expect("ok");
        assert!(other.messages.is_empty() && other.skipped.len() == 1);
    }

    #[test]
    fn the_same_wamid_always_gets_the_same_event_id_and_times_are_sane() {
        let body = delivery(
            json!([{ "from": "15550001111", "id": "wamid.D", "timestamp": "99999999999", "type": "text",
                     "text": { "body": "x" } }]),
            contact(),
        );
        let a = parse_delivery(&body, NOW).expect("a");
        let b = parse_delivery(&body, NOW + 5).expect("b");
        assert_eq!(a.messages[0].event_id(), b.messages[0].event_id());
        assert_eq!(
            a.messages[0].time, NOW,
            "a future timestamp is replaced by the receive time"
        );
    }

    #[test]
    fn control_characters_and_long_texts_are_cleaned_not_rejected() {
        let long = "é".repeat(MAX_MESSAGE_TEXT_LEN);
        let body = delivery(
            json!([{ "from": "15550001111", "id": "wamid.L", "timestamp": "1700000000", "type": "text",
                     "text": { "body": format!("a\u{0007}b\n{long}") } }]),
            contact(),
        );
        let d = parse_delivery(&body, NOW).expect("delivery");
        let t = d.messages[0].data.text.as_deref().expect("text");
        assert!(t.starts_with("ab\n"));
        assert!(t.len() <= MAX_MESSAGE_TEXT_LEN);
    }
}
