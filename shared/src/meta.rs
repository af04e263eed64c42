//! Talking to Meta: WhatsApp template nudges and the Conversions API for
//! business messaging (shapes from META-FORMATS.md §2 and §3). Pure: the
//! requests are built here, sent by the edge, and their answers classified here.

use serde_json::{json, Value};

use crate::schema::EventData;
use crate::signal::Delivery;
use crate::timeline::{campaign_touch, Stored};

/// The event names Meta accepts for business messaging (§3.3). Anything else
/// (e.g. the web pixel's `Lead`) is rejected by Meta, so it is refused here.
pub const ALLOWED_EVENT_NAMES: [&str; 14] = [
    "Purchase",
    "LeadSubmitted",
    "InitiateCheckout",
    "AddToCart",
    "ViewContent",
    "OrderCreated",
    "OrderShipped",
    "OrderDelivered",
    "OrderCanceled",
    "OrderReturned",
    "CartAbandoned",
    "QualifiedLead",
    "RatingProvided",
    "ReviewProvided",
];

/// Meta rejects a whole request holding an event older than this (§3.2), ms.
pub const MAX_EVENT_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Who a template is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A phone number (wa_id digits); sent as `to: "+<digits>"` so Meta does
    /// not prefix the business's own country code (§2.1).
    Phone(String),
    /// A business-scoped user id (2026+), sent as `recipient`.
    Bsuid(String),
}

/// The person's WhatsApp address and the business number they wrote to,
/// from the latest inbound message of a timeline.
pub fn whatsapp_contact(timeline: &[Stored]) -> Option<(Recipient, Option<String>)> {
    timeline
        .iter()
        .filter_map(|s| match &s.event.data {
            EventData::WhatsappInbound(w) => Some((s.time, w)),
            _ => None,
        })
        .max_by_key(|(t, _)| *t)
        .and_then(|(_, w)| {
            let r = match (&w.wa_id, &w.user_id) {
                (Some(p), _) => Recipient::Phone(p.clone()),
                (None, Some(u)) => Recipient::Bsuid(u.clone()),
                (None, None) => return None,
            };
            Some((r, w.phone_number_id.clone()))
        })
}

/// The body of `POST /{version}/{phone_number_id}/messages` for a template
/// without variables. `trace` comes back in status webhooks.
pub fn template_message(to: &Recipient, template: &str, language: &str, trace: &str) -> Value {
    let mut m = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "template",
        "template": { "name": template, "language": { "code": language } },
        "biz_opaque_callback_data": trace,
    });
    match to {
        Recipient::Phone(digits) => {
            m["to"] = Value::from(format!("+{}", digits.trim_start_matches('+')))
        }
        Recipient::Bsuid(id) => m["recipient"] = Value::from(id.as_str()),
    }
    m
}

/// A purchase to report to Meta: an order on a profile whose last campaign
/// touch before it was a click-to-WhatsApp ad.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    /// Deterministic, `order-<order_id>:Purchase`: the ledger key (Meta does
    /// not deduplicate business-messaging events, §3.4).
    pub event_id: String,
    /// Order time, unix seconds.
    pub event_time: i64,
    /// Raw click id from the referral (never hashed).
    pub ctwa_clid: String,
    /// Order value.
    pub value: f64,
    /// ISO 4217.
    pub currency: String,
}

/// Decides whether the order `order_event_id` in `timeline` is reported to
/// Meta, at `now`: it must be credited (last touch within 7 days) to a CTWA
/// ad with a click id, and be less than 7 days old.
pub fn purchase(timeline: &[Stored], order_event_id: &str, now: i64) -> Option<Purchase> {
    let order = timeline
        .iter()
        .find(|s| s.event.event_id == order_event_id)?;
    let EventData::Order(o) = &order.event.data else {
        return None;
    };
    if now - order.time > MAX_EVENT_AGE_MS {
        return None;
    }
    let credit = timeline
        .iter()
        .filter(|s| s.time <= order.time && order.time - s.time <= MAX_EVENT_AGE_MS)
        .filter_map(campaign_touch)
        .max_by_key(|c| c.time)?;
    Some(Purchase {
        event_id: format!("order-{}:Purchase", o.order_id),
        event_time: order.time.div_euclid(1000),
        ctwa_clid: credit.ctwa_clid?,
        value: o.value,
        currency: o.currency.clone(),
    })
}

/// The body of `POST /{version}/{dataset_id}/events` for one purchase.
pub fn purchase_request(p: &Purchase, waba_id: &str) -> Value {
    json!({
        "data": [{
            "event_name": "Purchase",
            "event_time": p.event_time,
            "event_id": p.event_id,
            "action_source": "business_messaging",
            "messaging_channel": "whatsapp",
            "user_data": { "whatsapp_business_account_id": waba_id, "ctwa_clid": p.ctwa_clid },
            "custom_data": { "currency": p.currency, "value": p.value },
        }],
        "partner_agent": "touchline",
    })
}

/// Graph API error codes worth retrying (§2.4): throughput, pair and WABA
/// rate limits, app rate limit, and unknown/service errors.
const RETRYABLE_CODES: [i64; 8] = [130429, 131056, 80007, 4, 131000, 1, 2, 131016];

/// Classifies a Graph API answer by its `error.code`, not its HTTP status
/// (§2.3): 2xx delivered; retryable codes, 5xx and no answer retried; the
/// rest (bad template, re-engagement, opted out, bad token) refused.
pub fn classify_graph(status: Option<u16>, body: &str) -> Delivery {
    match status {
        Some(200..=299) => return Delivery::Delivered,
        None | Some(500..=599) => return Delivery::Retry,
        _ => {}
    }
    let code = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_i64());
    match code {
        Some(c) if RETRYABLE_CODES.contains(&c) => Delivery::Retry,
        Some(_) => Delivery::Refused,
        None if status == Some(429) => Delivery::Retry,
        None => Delivery::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;
    use crate::timeline::Via;

    fn stored(id: &str, time: i64, data: EventData) -> Stored {
        Stored {
            time,
            via: Via::Webhook,
            event: Event {
                schema: 1,
                site_id: "demo".into(),
                visitor_id: "v".into(),
                session_id: "s".into(),
                event_id: id.into(),
                ts: time,
                seq: 0,
                url: "https://s.example/".into(),
                referrer: None,
                data,
            },
        }
    }

    fn chat(
        id: &str,
        time: i64,
        wa_id: Option<&str>,
        user_id: Option<&str>,
        clid: Option<&str>,
    ) -> Stored {
        stored(
            id,
            time,
            EventData::WhatsappInbound(WhatsappInbound {
                message_id: format!("wamid.{id}"),
                wa: wa_id.or(user_id).unwrap_or("x").into(),
                wa_id: wa_id.map(String::from),
                user_id: user_id.map(String::from),
                profile_name: None,
                message_type: "text".into(),
                original_type: None,
                text: Some("Is COD available?".into()),
                referral: clid.map(|c| CtwaReferral {
                    source_id: "333".into(),
                    source_type: Some("ad".into()),
                    source_url: None,
                    headline: None,
                    body: None,
                    media_type: None,
                    ctwa_clid: Some(c.into()),
                }),
                phone_number_id: Some("222".into()),
            }),
        )
    }

    fn order(id: &str, time: i64) -> Stored {
        stored(
            id,
            time,
            EventData::Order(Order {
                order_id: "ORD-1".into(),
                value: 1499.0,
                currency: "INR".into(),
                payment_method: Some("cod".into()),
            }),
        )
    }

    #[test]
    fn templates_go_to_plus_prefixed_numbers_or_business_scoped_ids() {
        let m = template_message(
            &Recipient::Phone("15550001111".into()),
            "cod_help",
            "en",
            "sig_1",
        );
        assert_eq!(m["to"], "+15550001111");
        assert_eq!(m["type"], "template");
        assert_eq!(m["messaging_product"], "whatsapp");
        assert_eq!(m["template"]["name"], "cod_help");
        assert_eq!(m["template"]["language"]["code"], "en");
        let b = template_message(
            &Recipient::Bsuid("US.123".into()),
            "cod_help",
            "en",
            "sig_1",
        );
        assert_eq!(
            (b["recipient"].as_str(), b.get("to")),
            (Some("US.123"), None)
        );
    }

    #[test]
    fn the_latest_chat_gives_the_contact() {
        let t = [
            chat("a", 1, Some("111"), None, None),
            chat("b", 2, None, Some("US.9"), None),
        ];
        assert_eq!(
            whatsapp_contact(&t),
            Some((Recipient::Bsuid("US.9".into()), Some("222".into())))
        );
        assert_eq!(whatsapp_contact(&[order("o", 1)]), None);
    }

    #[test]
    fn an_order_after_a_ctwa_chat_is_a_purchase_with_its_click_id() {
        let day = 86_400_000;
        let t = [
            chat("c", 10 * day, Some("111"), None, Some("CLID")),
            order("o", 10 * day + 5_000),
        ];
        let p = purchase(&t, "o", 11 * day).expect("reported");
        assert_eq!(p.event_id, "order-ORD-1:Purchase");
        assert_eq!(p.event_time, (10 * day + 5_000) / 1000, "seconds, not ms");
        assert_eq!(
            (p.ctwa_clid.as_str(), p.value, p.currency.as_str()),
            ("CLID", 1499.0, "INR")
        );
        let body = purchase_request(&p, "999");
        assert_eq!(body["data"][0]["action_source"], "business_messaging");
        assert_eq!(body["data"][0]["messaging_channel"], "whatsapp");
        assert_eq!(
            body["data"][0]["user_data"]["whatsapp_business_account_id"],
            "999"
        );
        assert_eq!(body["data"][0]["user_data"]["ctwa_clid"], "CLID");
        assert!(ALLOWED_EVENT_NAMES.contains(&body["data"][0]["event_name"].as_str().unwrap_or("")));
    }

    #[test]
    fn orders_without_a_recent_ctwa_click_or_too_old_are_not_reported() {
        let day = 86_400_000;
        let organic = [chat("c", 0, Some("111"), None, None), order("o", 1000)];
        assert_eq!(purchase(&organic, "o", 2000), None);
        let stale_click = [
            chat("c", 0, Some("111"), None, Some("CLID")),
            order("o", 8 * day),
        ];
        assert_eq!(purchase(&stale_click, "o", 8 * day), None);
        let old_order = [
            chat("c", 0, Some("111"), None, Some("CLID")),
            order("o", 1000),
        ];
        assert_eq!(purchase(&old_order, "o", 8 * day), None);
        assert_eq!(purchase(&old_order, "nope", 2000), None);
    }

    #[test]
    fn graph_errors_are_classified_by_code() {
        let err = |code: i64| {
            format!(r#"{{"error":{{"message":"x","type":"OAuthException","code":{code}}}}}"#)
        };
        assert_eq!(classify_graph(Some(200), "{}"), Delivery::Delivered);
        assert_eq!(classify_graph(Some(400), &err(130429)), Delivery::Retry);
        assert_eq!(classify_graph(Some(400), &err(131056)), Delivery::Retry);
        assert_eq!(classify_graph(Some(503), &err(1)), Delivery::Retry);
        assert_eq!(classify_graph(None, ""), Delivery::Retry);
        assert_eq!(classify_graph(Some(400), &err(131047)), Delivery::Refused);
        assert_eq!(classify_graph(Some(404), &err(132001)), Delivery::Refused);
        assert_eq!(classify_graph(Some(401), &err(190)), Delivery::Refused);
        assert_eq!(classify_graph(Some(429), "not json"), Delivery::Retry);
        assert_eq!(classify_graph(Some(400), "not json"), Delivery::Refused);
    }
}
