//! Stored events as report touches: the step a funnel counts and the source
//! (channel, source, campaign, ad) the campaign table credits. Paid and tagged
//! sources come from [`campaign_touch`], the same function that credits orders
//! on the timeline, so reports and timelines agree; organic sources (a chat not
//! opened by an ad, a visit from a search engine or Instagram without tags, an
//! Instagram view) are marked `organic`.

use serde::{Deserialize, Serialize};

use crate::attribution::ReferrerClass;
use crate::reports::{Source, Touch};
use crate::schema::EventData;
use crate::timeline::{campaign_touch, Channel, Stored};

/// A touch as stored in the reporting table, with its order currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TouchRecord {
    /// The touch.
    #[serde(flatten)]
    pub touch: Touch,
    /// ISO 4217 code of an order's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The lowercase name of a channel, as the timeline API writes it.
pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Web => "web",
        Channel::Whatsapp => "whatsapp",
        Channel::Instagram => "instagram",
        Channel::Search => "search",
        Channel::Ads => "ads",
        Channel::Offline => "offline",
    }
}

fn organic(channel: &str, source: &str) -> Source {
    Source {
        channel: channel.into(),
        source: source.into(),
        campaign: String::new(),
        ad: String::new(),
    }
}

/// The report touch of a stored event.
pub fn touch_of(s: &Stored) -> TouchRecord {
    let e = &s.event;
    let step = match &e.data {
        EventData::CheckoutStep(c) => format!("checkout:{}", c.step),
        d => d.kind().to_owned(),
    };
    let (mut source, mut is_organic) = (None, false);
    if let Some(c) = campaign_touch(s) {
        let ad = match &e.data {
            EventData::WhatsappInbound(w) => w.referral.as_ref().map(|r| r.source_id.clone()),
            EventData::PageView(p) => p.attribution.utm_content.clone(),
            EventData::Instagram(i) => i.ad_id.clone(),
            _ => None,
        };
        source = Some(Source {
            channel: channel_name(c.channel).into(),
            source: c.source.unwrap_or_default(),
            campaign: c.campaign.unwrap_or_default(),
            ad: ad.unwrap_or_default(),
        });
    } else {
        let o = match &e.data {
            EventData::WhatsappInbound(_) => Some(organic("whatsapp", "whatsapp")),
            EventData::Instagram(_) => Some(organic("instagram", "instagram")),
            EventData::PageView(p) => match p.attribution.referrer_class {
                Some(ReferrerClass::Search) => Some(organic("search", "search")),
                Some(ReferrerClass::Instagram) => Some(organic("instagram", "instagram")),
                Some(ReferrerClass::Whatsapp) => Some(organic("whatsapp", "whatsapp")),
                Some(ReferrerClass::Facebook) => Some(organic("web", "facebook")),
                Some(ReferrerClass::Email) => Some(organic("web", "email")),
                Some(ReferrerClass::Other) => Some(organic("web", "referral")),
                _ => None,
            },
            _ => None,
        };
        is_organic = o.is_some();
        source = o.or(source);
    }
    let (value, currency) = match &e.data {
        EventData::Order(o) => (Some(o.value), Some(o.currency.clone())),
        _ => (None, None),
    };
    TouchRecord {
        touch: Touch {
            event_id: e.event_id.clone(),
            time: s.time,
            step,
            source,
            value,
            organic: is_organic,
        },
        currency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Via;
    use crate::Event;

    fn stored(data: serde_json::Value) -> Stored {
        let e: Event = serde_json::from_value(serde_json::json!({
            "schema": 1, "site_id": "demo", "visitor_id": "v1", "session_id": "s1",
            "event_id": "e1", "ts": 1000, "seq": 1, "url": "https://shop.example/p?x=1",
            "data": data
        }))
        .expect("event");
        Stored {
            time: 1000,
            via: Via::Collect,
            event: e,
        }
    }

    fn src(t: &TouchRecord) -> (String, String, String, String, bool) {
        let s = t.touch.source.clone().expect("source");
        (s.channel, s.source, s.campaign, s.ad, t.touch.organic)
    }

    #[test]
    fn a_ctwa_chat_is_credited_to_its_ad_and_a_plain_chat_is_organic_whatsapp() {
        let ad = stored(
            serde_json::json!({"kind": "whatsapp_inbound", "message_id": "wamid.1", "wa": "1555",
            "message_type": "text", "text": "Hi",
            "referral": {"source_id": "333", "ctwa_clid": "c1"}}),
        );
        let t = touch_of(&ad);
        assert_eq!(t.touch.step, "whatsapp_inbound");
        assert_eq!(
            src(&t),
            (
                "ads".into(),
                "meta_ctwa".into(),
                "333".into(),
                "333".into(),
                false
            )
        );
        let plain = stored(
            serde_json::json!({"kind": "whatsapp_inbound", "message_id": "wamid.2", "wa": "1555",
            "message_type": "text", "text": "COD?"}),
        );
        assert_eq!(
            src(&touch_of(&plain)),
            (
                "whatsapp".into(),
                "whatsapp".into(),
                String::new(),
                String::new(),
                true
            )
        );
    }

    #[test]
    fn tagged_landings_paid_search_and_organic_referrers_get_their_sources() {
        let ig = stored(serde_json::json!({"kind": "page_view", "attribution": {
            "utm_source": "instagram", "utm_medium": "paid_social", "utm_campaign": "reels_nov", "utm_content": "reel_7"}}));
        assert_eq!(
            src(&touch_of(&ig)),
            (
                "ads".into(),
                "instagram".into(),
                "reels_nov".into(),
                "reel_7".into(),
                false
            )
        );
        let seo = stored(
            serde_json::json!({"kind": "page_view", "attribution": {"referrer_class": "search"}}),
        );
        assert_eq!(
            src(&touch_of(&seo)),
            (
                "search".into(),
                "search".into(),
                String::new(),
                String::new(),
                true
            )
        );
        let direct = stored(serde_json::json!({"kind": "page_view"}));
        assert_eq!(touch_of(&direct).touch.source, None);
        let paid = stored(
            serde_json::json!({"kind": "paid_search", "term": "saathi discount", "engine": "google", "campaign": "brand_discount"}),
        );
        assert_eq!(
            src(&touch_of(&paid)),
            (
                "search".into(),
                "google".into(),
                "brand_discount".into(),
                String::new(),
                false
            )
        );
    }

    #[test]
    fn checkout_steps_and_orders_carry_step_value_and_currency() {
        let step = touch_of(&stored(
            serde_json::json!({"kind": "checkout_step", "step": "address"}),
        ));
        assert_eq!(
            (step.touch.step.as_str(), step.touch.source.is_none()),
            ("checkout:address", true)
        );
        let order = touch_of(&stored(
            serde_json::json!({"kind": "order", "order_id": "O1", "value": 1499.0, "currency": "INR", "payment_method": "cod"}),
        ));
        assert_eq!(
            (
                order.touch.step.as_str(),
                order.touch.value,
                order.currency.as_deref()
            ),
            ("order", Some(1499.0), Some("INR"))
        );
    }
}
