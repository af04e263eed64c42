//! Which identities an event links to its person: the stitching rules.
//!
//! 1. Reference token: a `whatsapp_click` carries the token the tracker put into
//!    the prefilled message (`ref:` key); the inbound message that contains it
//!    carries the same key, so the two profiles become one.
//! 2. Signed chat link: a page view whose URL holds a valid `tl=` token links the
//!    visitor to the WhatsApp identity inside the token.
//! 3. identify(): the SHA-256 of a normalised phone or email (`ph:`, `em:`); a
//!    wa_id's phone hash is one of the WhatsApp user's keys.
//! 4. Orders: the order id (`order:`), so server events about the order (or
//!    carrying the buyer's phone) join the profile that placed it. A browser's
//!    order event only *claims* the id (it is recorded if still free, but never
//!    merges two profiles): a page could report anyone's order id, while a
//!    server holding the events key is trusted to.

use crate::identity::IdentityKey;
use crate::link::{self, LinkError};
use crate::schema::{Event, EventData};

/// What linking found for one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventKeys {
    /// Identities beyond the event's own person.
    pub keys: Vec<IdentityKey>,
    /// Identities recorded for the person only if no one holds them yet.
    pub claims: Vec<IdentityKey>,
    /// A `tl=` token that was present but refused (kept for the logs).
    pub link_error: Option<LinkError>,
}

/// Identities named by an event's data. `link_secret` verifies `tl=` tokens in
/// page-view URLs at `now_ms`; without a secret, tokens are ignored.
/// `trusted` is true for server-side senders.
pub fn event_keys(
    event: &Event,
    link_secret: Option<&[u8]>,
    now_ms: i64,
    trusted: bool,
) -> EventKeys {
    let mut out = EventKeys::default();
    let mut claims = Vec::new();
    let mut push = |k: IdentityKey| {
        if k.check().is_ok() && !out.keys.contains(&k) {
            out.keys.push(k);
        }
    };
    let mut order = |id: &str| {
        let k = IdentityKey::Order(id.to_owned());
        if k.check().is_ok() {
            claims.push(k);
        }
    };
    match &event.data {
        EventData::Identify(i) => {
            if let Some(h) = &i.phone_sha256 {
                push(IdentityKey::Phone(h.clone()));
            }
            if let Some(h) = &i.email_sha256 {
                push(IdentityKey::Email(h.clone()));
            }
        }
        EventData::Order(o) => order(&o.order_id),
        EventData::OrderStatus(o) => order(&o.order_id),
        EventData::WhatsappClick(c) => {
            if let Some(r) = &c.reference {
                push(IdentityKey::Reference(r.to_ascii_lowercase()));
            }
        }
        EventData::PageView(_) => {
            if let (Some(secret), Some(token)) = (link_secret, link::token_in_url(&event.url)) {
                match link::verify(secret, &token, now_ms) {
                    Ok(k) => push(k),
                    Err(e) => out.link_error = Some(e),
                }
            }
        }
        _ => {}
    }
    if trusted {
        for k in claims {
            if !out.keys.contains(&k) {
                out.keys.push(k);
            }
        }
    } else {
        out.claims = claims;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    fn event(url: &str, data: EventData) -> Event {
        Event {
            schema: 1,
            site_id: "demo".into(),
            visitor_id: "vabc".into(),
            session_id: "s1".into(),
            event_id: "e1".into(),
            ts: 0,
            seq: 1,
            url: url.into(),
            referrer: None,
            data,
        }
    }

    fn page_view(url: &str) -> Event {
        event(
            url,
            EventData::PageView(PageView {
                title: None,
                attribution: Default::default(),
            }),
        )
    }

    const NOW: i64 = 1_764_052_400_000;

    #[test]
    fn a_landing_with_a_valid_link_token_links_the_whatsapp_user() {
        let wa = IdentityKey::Whatsapp("15550001111".into());
        let t = link::mint(b"s", &wa, NOW + 1000);
        let e = page_view(&link::add_to_url("https://shop.example/", &t));
        assert_eq!(event_keys(&e, Some(b"s"), NOW, false).keys, [wa]);
        let expired = event_keys(&e, Some(b"s"), NOW + 1000, false);
        assert!(expired.keys.is_empty());
        assert_eq!(expired.link_error, Some(LinkError::Expired));
        let forged = event_keys(&e, Some(b"other"), NOW, false);
        assert_eq!(forged.link_error, Some(LinkError::Forged));
        assert!(event_keys(&e, None, NOW, false).keys.is_empty());
    }

    #[test]
    fn clicks_identifies_and_orders_name_their_keys() {
        let click = event(
            "https://shop.example/",
            EventData::WhatsappClick(WhatsappClick {
                target: "https://wa.me/15550009999".into(),
                reference: Some("tl-3f9a2c1b7d".into()),
            }),
        );
        assert_eq!(
            event_keys(&click, None, NOW, false).keys,
            [IdentityKey::Reference("tl-3f9a2c1b7d".into())]
        );
        let h = "beac9dfcfadbc799c464ab7a4f175b4a108b05412db10f8ad050c010444cbed9";
        let id = event(
            "https://shop.example/",
            EventData::Identify(Identify {
                email_sha256: None,
                phone_sha256: Some(h.into()),
            }),
        );
        assert_eq!(
            event_keys(&id, None, NOW, false).keys,
            [IdentityKey::Phone(h.into())]
        );
        let order = event(
            "https://shop.example/",
            EventData::Order(Order {
                order_id: "ORD-1".into(),
                value: 1.0,
                currency: "INR".into(),
                payment_method: None,
            }),
        );
        let from_browser = event_keys(&order, None, NOW, false);
        assert!(
            from_browser.keys.is_empty(),
            "a page only claims an order id"
        );
        assert_eq!(from_browser.claims, [IdentityKey::Order("ORD-1".into())]);
        assert_eq!(
            event_keys(&order, None, NOW, true).keys,
            [IdentityKey::Order("ORD-1".into())]
        );
        let odd = event(
            "https://shop.example/",
            EventData::Order(Order {
                order_id: "order with spaces".into(),
                value: 1.0,
                currency: "INR".into(),
                payment_method: None,
            }),
        );
        assert!(event_keys(&odd, None, NOW, true).keys.is_empty());
    }
}
