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
            EventData::InstagramInbound(i) => i.referral.as_ref().and_then(|r| r.ad_id.clone()),
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
            EventData::Instagram(i) => Some(organic(
                "instagram",
                &crate::instagram::source_name(crate::instagram::action_placement(&i.action)),
            )),
            EventData::InstagramInbound(_) => Some(organic("instagram", "instagram")),
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
            "utm_source": "instagram", "utm_medium": "paid_social", "utm_campaign": "reels_nov",
            "utm_content": "reel_7", "referrer_class": "instagram"}}));
        assert_eq!(
            src(&touch_of(&ig)),
            (
                "instagram".into(),
                "instagram_reel".into(),
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

    fn at(time: i64, id: &str, data: serde_json::Value) -> Stored {
        let mut s = stored(data);
        s.time = time;
        s.event.event_id = id.into();
        s
    }

    #[test]
    fn a_click_to_direct_ad_then_a_visit_and_an_order_three_days_later_credit_the_ad_under_every_model(
    ) {
        use crate::reports::{campaigns, Journey, Model};
        const DAY: i64 = 86_400_000;
        let t0 = 1_764_000_000_000;
        let events = [
            at(
                t0,
                "ig1",
                serde_json::json!({"kind": "instagram_inbound", "message_id": "M1",
                "igsid": "990000000000001", "message_type": "text", "text": "Is this available?",
                "referral": {"source": "ADS", "ad_id": "333", "ad_title": "Spring sale"}}),
            ),
            at(
                t0 + 60_000,
                "ig2",
                serde_json::json!({"kind": "instagram_inbound", "message_id": "M2",
                "igsid": "990000000000001", "message_type": "text", "text": "COD?"}),
            ),
            at(
                t0 + 3 * DAY - 600_000,
                "pv",
                serde_json::json!({"kind": "page_view",
                "attribution": {"referrer_class": "instagram"}}),
            ),
            at(
                t0 + 3 * DAY,
                "o",
                serde_json::json!({"kind": "order", "order_id": "O1",
                "value": 1000.0, "currency": "INR"}),
            ),
        ];
        let recs: Vec<TouchRecord> = events.iter().map(touch_of).collect();
        assert_eq!(
            src(&recs[0]),
            (
                "instagram".into(),
                "instagram_ad".into(),
                "333".into(),
                "333".into(),
                false
            )
        );
        assert_eq!(
            src(&recs[1]).1,
            "instagram",
            "a later message is organic Instagram"
        );
        assert!(recs[1].touch.organic && recs[2].touch.organic);
        let journeys = [Journey {
            profile_id: "p1".into(),
            touches: recs.into_iter().map(|r| r.touch).collect(),
        }];
        for model in [
            Model::FirstTouch,
            Model::LastTouch,
            Model::Linear,
            Model::TimeDecay,
        ] {
            let rows = campaigns(&journeys, model, t0, t0 + 4 * DAY, &[]);
            let ad = rows
                .iter()
                .find(|r| r.source.source == "instagram_ad")
                .expect("the ad's row");
            assert_eq!(ad.source.channel, "instagram");
            let ig_total: f64 = rows
                .iter()
                .filter(|r| r.source.channel == "instagram")
                .map(|r| r.orders)
                .sum();
            assert!(
                (ig_total - 1.0).abs() < 1e-9,
                "{model:?}: all credit stays on Instagram"
            );
            match model {
                Model::LastTouch => assert_eq!(ad.orders, 0.0, "the in-app visit is last"),
                Model::FirstTouch => assert_eq!(ad.orders, 1.0),
                _ => assert!(
                    ad.orders > 0.0 && ad.orders < 1.0,
                    "{model:?}: {}",
                    ad.orders
                ),
            }
        }
    }

    #[test]
    fn exported_reel_views_and_story_replies_are_instagram_touches_with_their_placement() {
        let reel = touch_of(&stored(
            serde_json::json!({"kind": "instagram", "action": "reel_view", "media_id": "R1"}),
        ));
        assert_eq!(
            src(&reel),
            (
                "instagram".into(),
                "instagram_reel".into(),
                String::new(),
                String::new(),
                true
            )
        );
        let tagged = touch_of(&stored(
            serde_json::json!({"kind": "instagram", "action": "story_reply", "campaign": "diwali"}),
        ));
        assert_eq!(
            src(&tagged),
            (
                "instagram".into(),
                "instagram_story".into(),
                "diwali".into(),
                String::new(),
                false
            )
        );
        let igme = touch_of(&stored(serde_json::json!({"kind": "instagram_inbound",
            "igsid": "1", "message_type": "referral",
            "referral": {"source": "IGME-SOURCE-LINK", "ref": "poster-mumbai"}})));
        assert_eq!(
            src(&igme),
            (
                "instagram".into(),
                "ig_me".into(),
                "poster-mumbai".into(),
                String::new(),
                false
            )
        );
        let paid = touch_of(&stored(
            serde_json::json!({"kind": "page_view", "attribution": {
            "utm_source": "ig", "utm_medium": "paid_social", "utm_campaign": "c", "fbclid": "F",
            "referrer_class": "instagram"}}),
        ));
        assert_eq!(
            src(&paid).0,
            "instagram",
            "an Instagram ad landing is Instagram, not generic ads"
        );
    }
}
