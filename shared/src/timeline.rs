//! A profile's timeline: stored events turned into touchpoints, each with its
//! channel, source/campaign, action and evidence, in time order; orders carry
//! the campaign touch they are credited to (last campaign touch within
//! [`ATTRIBUTION_WINDOW_MS`]).

use std::cmp::Ordering;

use serde::Serialize;

use crate::attribution::{host_of, ReferrerClass};
use crate::instagram;
use crate::limits::ATTRIBUTION_WINDOW_MS;
use crate::schema::{Event, EventData};

/// How an event reached the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The tracker, `POST /v1/collect`.
    Collect,
    /// A server, `POST /v1/events`.
    Events,
    /// The WhatsApp Cloud API webhook.
    Webhook,
}

impl Via {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Collect => "collect",
            Via::Events => "events",
            Via::Webhook => "webhook",
        }
    }

    /// Reads a stored name (unknown names count as `collect`, the oldest path).
    pub fn parse(s: &str) -> Via {
        match s {
            "events" => Via::Events,
            "webhook" => Via::Webhook,
            _ => Via::Collect,
        }
    }
}

/// Where a touchpoint happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// On the site.
    Web,
    /// In a WhatsApp chat.
    Whatsapp,
    /// On Instagram.
    Instagram,
    /// A search engine (paid or organic).
    Search,
    /// A paid ad (Meta, click-to-WhatsApp, display).
    Ads,
    /// Outside any screen we see: deliveries, cash payments, CRM stages.
    Offline,
}

/// A stored event as the timeline reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Event time on the collector's clock, ms.
    pub time: i64,
    /// How it arrived.
    pub via: Via,
    /// The event.
    pub event: Event,
}

/// The campaign touch an order is credited to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Credit {
    /// Channel of the campaign touch.
    pub channel: Channel,
    /// Source, e.g. `meta_ctwa`, `google`, `facebook`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Campaign or ad id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Click-to-WhatsApp click id, for reporting the conversion to Meta.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    /// Time of the campaign touch, ms.
    pub time: i64,
    /// The event that carried it.
    pub evidence: Vec<String>,
}

/// The click-to-WhatsApp ad behind a chat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ad {
    /// Ad (or post) id.
    pub source_id: String,
    /// `ad` or `post`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// URL of the ad.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Ad headline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// Click id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
}

/// One step of a customer's journey.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Touchpoint {
    /// When, ms since the epoch.
    pub time: i64,
    /// Where.
    pub channel: Channel,
    /// Traffic source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Campaign or ad id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// What happened: `ad_click`, `message`, `page_view`, `order`, ...
    pub action: String,
    /// A human detail: the message text, page path, product, order id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Ids of the events this touchpoint stands on.
    pub evidence: Vec<String>,
    /// The click-to-WhatsApp ad, on ad clicks and on the chat they opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad: Option<Ad>,
    /// For orders: the campaign touch credited with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributed_to: Option<Credit>,
}

/// Timeline order: time, then the client's sequence, then event id.
pub fn order(a: &Stored, b: &Stored) -> Ordering {
    (a.time, a.event.seq, &a.event.event_id).cmp(&(b.time, b.event.seq, &b.event.event_id))
}

/// The campaign touch an event is, if any.
pub fn campaign_touch(s: &Stored) -> Option<Credit> {
    let evidence = vec![s.event.event_id.clone()];
    let credit = |channel, source: Option<String>, campaign: Option<String>| Credit {
        channel,
        source,
        campaign,
        ctwa_clid: None,
        time: s.time,
        evidence: evidence.clone(),
    };
    match &s.event.data {
        EventData::WhatsappInbound(w) => w.referral.as_ref().map(|r| Credit {
            ctwa_clid: r.ctwa_clid.clone(),
            ..credit(
                Channel::Ads,
                Some("meta_ctwa".into()),
                Some(r.source_id.clone()),
            )
        }),
        EventData::PageView(p) if p.attribution.has_campaign() => {
            let a = &p.attribution;
            let medium = a.utm_medium.as_deref().unwrap_or("").to_ascii_lowercase();
            let paid = [
                "cpc",
                "ppc",
                "paid",
                "paid_social",
                "paidsocial",
                "ads",
                "display",
            ]
            .contains(&medium.as_str());
            // Instagram is its own channel, paid or not (its ads carry an
            // fbclid too); a click-to-WhatsApp landing stays an ad.
            let tagged_ig = a.utm_source.as_deref().is_some_and(|v| {
                v.eq_ignore_ascii_case("instagram") || v.eq_ignore_ascii_case("ig")
            });
            let instagram = a.ctwa_clid.is_none()
                && (tagged_ig
                    || a.igshid.is_some()
                    || a.referrer_class == Some(ReferrerClass::Instagram));
            let channel = if a.gclid.is_some() {
                Channel::Search
            } else if instagram {
                Channel::Instagram
            } else if a.ctwa_clid.is_some() || a.fbclid.is_some() || paid {
                Channel::Ads
            } else {
                Channel::Web
            };
            let source = if channel == Channel::Instagram {
                Some(instagram::source_name(instagram::instagram_placement(
                    a,
                    &s.event.url,
                )))
            } else {
                a.utm_source
                    .clone()
                    .or_else(|| a.referrer_class.map(|c| c.as_str().to_owned()))
            };
            Some(Credit {
                ctwa_clid: a.ctwa_clid.clone(),
                ..credit(channel, source, a.utm_campaign.clone())
            })
        }
        EventData::PaidSearch(p) => Some(credit(
            Channel::Search,
            p.engine.clone(),
            p.campaign.clone().or_else(|| Some(p.term.clone())),
        )),
        EventData::Instagram(i) if i.ad_id.is_some() || i.campaign.is_some() => Some(credit(
            Channel::Instagram,
            Some(instagram::source_name(instagram::action_placement(
                &i.action,
            ))),
            i.campaign.clone().or_else(|| i.ad_id.clone()),
        )),
        EventData::InstagramInbound(i) => {
            let r = i.referral.as_ref()?;
            match (&r.ad_id, instagram::campaign_ref(r)) {
                (Some(ad), _) => Some(credit(
                    Channel::Instagram,
                    Some(instagram::SOURCE_AD.into()),
                    Some(ad.clone()),
                )),
                (None, Some(label)) => Some(credit(
                    Channel::Instagram,
                    Some(instagram::SOURCE_IG_ME.into()),
                    Some(label.to_owned()),
                )),
                (None, None) => None,
            }
        }
        _ => None,
    }
}

fn path_of(url: &str) -> String {
    let host = host_of(url);
    let rest = url
        .find(host)
        .map(|i| &url[i + host.len()..])
        .unwrap_or(url);
    let rest = rest.trim_start_matches(|c: char| c == ':' || c.is_ascii_digit());
    let path = rest.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        "/".into()
    } else {
        path.into()
    }
}

/// The touchpoints of one stored event (a chat opened by an ad gives two: the
/// ad click, then the message).
pub fn touchpoints_of(s: &Stored) -> Vec<Touchpoint> {
    let e = &s.event;
    let tp = |channel, action: &str, detail: Option<String>| Touchpoint {
        time: s.time,
        channel,
        source: None,
        campaign: None,
        action: action.into(),
        detail,
        evidence: vec![e.event_id.clone()],
        ad: None,
        attributed_to: None,
    };
    let web = |action: &str, detail: Option<String>| tp(Channel::Web, action, detail);
    match &e.data {
        EventData::WhatsappInbound(w) => {
            let ad = w.referral.as_ref().map(|r| Ad {
                source_id: r.source_id.clone(),
                source_type: r.source_type.clone(),
                source_url: r.source_url.clone(),
                headline: r.headline.clone(),
                ctwa_clid: r.ctwa_clid.clone(),
            });
            let detail = w
                .text
                .clone()
                .or_else(|| w.original_type.as_ref().map(|t| format!("[{t}]")));
            let mut message = tp(Channel::Whatsapp, "message", detail);
            let mut out = Vec::new();
            if let Some(ad) = ad {
                let mut click = tp(Channel::Ads, "ad_click", ad.headline.clone());
                click.source = Some("meta_ctwa".into());
                click.campaign = Some(ad.source_id.clone());
                click.ad = Some(ad.clone());
                message.source = Some("meta_ctwa".into());
                message.campaign = Some(ad.source_id.clone());
                message.ad = Some(ad);
                out.push(click);
            } else {
                message.source = Some("whatsapp".into());
            }
            out.push(message);
            out
        }
        EventData::PageView(p) => {
            let mut t = web("page_view", Some(path_of(&e.url)));
            if let Some(c) = campaign_touch(s) {
                t.channel = if c.channel == Channel::Web {
                    Channel::Web
                } else {
                    c.channel
                };
                t.source = c.source;
                t.campaign = c.campaign;
            } else if let Some(class) = p.attribution.referrer_class {
                t.source = Some(class.as_str().to_owned());
            }
            vec![t]
        }
        EventData::ProductView(p) => {
            vec![web(
                "product_view",
                Some(p.name.clone().unwrap_or_else(|| p.sku.clone())),
            )]
        }
        EventData::Scroll(sc) => vec![web("scroll", Some(format!("{}%", sc.depth_pct)))],
        EventData::Engagement(g) => {
            vec![web("engagement", Some(format!("{} s", g.total_ms / 1000)))]
        }
        EventData::PricingView(p) => {
            vec![web(
                "pricing_view",
                Some(format!("view {} in 7 days", p.count_7d)),
            )]
        }
        EventData::CheckoutStep(c) => vec![web("checkout_step", Some(c.step.clone()))],
        EventData::Order(o) => {
            let channel = if s.via == Via::Collect {
                Channel::Web
            } else {
                Channel::Offline
            };
            let pay = o
                .payment_method
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default();
            vec![tp(
                channel,
                "order",
                Some(format!("{} {} {}{pay}", o.order_id, o.value, o.currency)),
            )]
        }
        EventData::OrderStatus(o) => vec![tp(
            Channel::Offline,
            "order_status",
            Some(format!("{} {}", o.order_id, o.status)),
        )],
        EventData::CrmStage(c) => vec![tp(Channel::Offline, "crm_stage", Some(c.stage.clone()))],
        EventData::WhatsappClick(_) => vec![web("whatsapp_click", None)],
        EventData::Search(q) => vec![web("search", Some(q.query.clone()))],
        EventData::Identify(_) => vec![web("identify", None)],
        EventData::Custom(c) => vec![web("custom", Some(c.name.clone()))],
        EventData::Instagram(i) => {
            let mut t = tp(
                Channel::Instagram,
                &i.action,
                i.text.clone().or_else(|| i.media_id.clone()),
            );
            t.source = Some(instagram::source_name(instagram::action_placement(
                &i.action,
            )));
            t.campaign = i.campaign.clone().or_else(|| i.ad_id.clone());
            vec![t]
        }
        EventData::InstagramInbound(i) => {
            let credit = campaign_touch(s);
            let ad = i.referral.as_ref().and_then(|r| {
                r.ad_id.as_ref().map(|id| Ad {
                    source_id: id.clone(),
                    source_type: Some("ad".into()),
                    source_url: r.media_url.clone(),
                    headline: r.ad_title.clone(),
                    ctwa_clid: None,
                })
            });
            let (action, detail) = match i.message_type.as_str() {
                "referral" => (
                    "link_open",
                    i.referral.as_ref().and_then(|r| r.reference.clone()),
                ),
                "postback" => ("icebreaker", i.text.clone()),
                "story_reply" => ("story_reply", i.text.clone()),
                _ => (
                    "message",
                    i.text
                        .clone()
                        .or_else(|| i.original_type.as_ref().map(|t| format!("[{t}]"))),
                ),
            };
            let mut message = tp(Channel::Instagram, action, detail);
            message.source = Some(
                credit
                    .as_ref()
                    .and_then(|c| c.source.clone())
                    .unwrap_or_else(|| instagram::OBJECT.into()),
            );
            message.campaign = credit.and_then(|c| c.campaign);
            let mut out = Vec::new();
            if let Some(ad) = ad {
                let mut click = tp(Channel::Instagram, "ad_click", ad.headline.clone());
                click.source = message.source.clone();
                click.campaign = message.campaign.clone();
                click.ad = Some(ad.clone());
                message.ad = Some(ad);
                out.push(click);
            }
            if action != "link_open" || out.is_empty() {
                out.push(message);
            }
            out
        }
        EventData::PaidSearch(p) => {
            let mut t = tp(Channel::Search, "ad_click", Some(p.term.clone()));
            t.source = p.engine.clone();
            t.campaign = p.campaign.clone();
            vec![t]
        }
    }
}

/// Touchpoints of `page` (one page of a timeline, any order), in timeline
/// order. `earlier` holds campaign touches from before the page, so that an
/// order on this page is credited even when its ad lies on a previous page.
pub fn touchpoints(page: &[Stored], earlier: &[Stored]) -> Vec<Touchpoint> {
    let mut all: Vec<(&Stored, bool)> = earlier
        .iter()
        .map(|s| (s, false))
        .chain(page.iter().map(|s| (s, true)))
        .collect();
    all.sort_by(|a, b| order(a.0, b.0).then(b.1.cmp(&a.1)));
    all.dedup_by(|b, a| a.0.event.event_id == b.0.event.event_id);
    let mut last: Option<Credit> = None;
    let mut out = Vec::new();
    for (s, on_page) in all {
        if let Some(c) = campaign_touch(s) {
            last = Some(c);
        }
        if !on_page {
            continue;
        }
        for mut t in touchpoints_of(s) {
            if matches!(s.event.data, EventData::Order(_)) {
                t.attributed_to = last
                    .clone()
                    .filter(|c| s.time - c.time <= ATTRIBUTION_WINDOW_MS);
            }
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::Attribution;
    use crate::schema::*;

    fn stored(id: &str, time: i64, via: Via, url: &str, data: EventData) -> Stored {
        Stored {
            time,
            via,
            event: Event {
                schema: 1,
                site_id: "demo".into(),
                visitor_id: "v1".into(),
                session_id: "s1".into(),
                event_id: id.into(),
                ts: time,
                seq: 0,
                url: url.into(),
                referrer: None,
                data,
            },
        }
    }

    fn chat(id: &str, time: i64, text: &str, ad: bool) -> Stored {
        stored(
            id,
            time,
            Via::Webhook,
            "https://wa.me/15550009999",
            EventData::WhatsappInbound(WhatsappInbound {
                message_id: format!("wamid.{id}"),
                wa: "15550001111".into(),
                wa_id: Some("15550001111".into()),
                user_id: None,
                profile_name: None,
                message_type: "text".into(),
                original_type: None,
                text: Some(text.into()),
                referral: ad.then(|| CtwaReferral {
                    source_id: "333333333333333".into(),
                    source_type: Some("ad".into()),
                    source_url: Some("https://fb.me/TESTAD0001".into()),
                    headline: Some("Blue kurta".into()),
                    body: None,
                    media_type: None,
                    ctwa_clid: Some("TEST_CTWA_CLID_0001".into()),
                }),
                phone_number_id: None,
            }),
        )
    }

    fn page(id: &str, time: i64, url: &str) -> Stored {
        stored(
            id,
            time,
            Via::Collect,
            url,
            EventData::PageView(PageView {
                title: None,
                attribution: Attribution::from_landing(url, ""),
            }),
        )
    }

    fn order(id: &str, time: i64, via: Via) -> Stored {
        stored(
            id,
            time,
            via,
            "https://shop.example/checkout/confirmation",
            EventData::Order(Order {
                order_id: "ORD-1".into(),
                value: 1499.0,
                currency: "INR".into(),
                payment_method: Some("cod".into()),
            }),
        )
    }

    const MIN: i64 = 60_000;

    #[test]
    fn the_seed_journey_reads_ad_chat_visit_order_with_the_order_credited_to_the_ad() {
        let t0 = 1_764_000_000_000;
        let events = vec![
            order("o", t0 + 44 * MIN, Via::Collect),
            page("p1", t0 + 33 * MIN, "https://shop.example/?tl=1.2.3.wa:1"),
            chat("c2", t0 + MIN, "Is COD available?", false),
            chat("c1", t0, "Hi, tell me about the blue kurta", true),
        ];
        let tps = touchpoints(&events, &[]);
        let got: Vec<(Channel, &str)> =
            tps.iter().map(|t| (t.channel, t.action.as_str())).collect();
        assert_eq!(
            got,
            [
                (Channel::Ads, "ad_click"),
                (Channel::Whatsapp, "message"),
                (Channel::Whatsapp, "message"),
                (Channel::Web, "page_view"),
                (Channel::Web, "order"),
            ]
        );
        assert_eq!(tps[0].campaign.as_deref(), Some("333333333333333"));
        assert_eq!(
            tps[1].ad.as_ref().and_then(|a| a.ctwa_clid.as_deref()),
            Some("TEST_CTWA_CLID_0001")
        );
        assert_eq!(tps[1].evidence, ["c1"]);
        assert_eq!(tps[3].detail.as_deref(), Some("/"));
        let credit = tps[4].attributed_to.as_ref().expect("credited");
        assert_eq!(credit.channel, Channel::Ads);
        assert_eq!(credit.campaign.as_deref(), Some("333333333333333"));
        assert_eq!(credit.ctwa_clid.as_deref(), Some("TEST_CTWA_CLID_0001"));
        assert_eq!(credit.evidence, ["c1"]);
    }

    #[test]
    fn a_later_campaign_landing_takes_the_credit_and_old_touches_expire() {
        let t0 = 1_764_000_000_000;
        let events = vec![
            chat("c1", t0, "hi", true),
            page(
                "p1",
                t0 + MIN,
                "https://shop.example/?utm_source=google&utm_campaign=brand&gclid=G",
            ),
            order("o", t0 + 2 * MIN, Via::Events),
        ];
        let tps = touchpoints(&events, &[]);
        let o = tps.last().expect("order");
        assert_eq!(
            o.channel,
            Channel::Offline,
            "a server-sent order happened offline"
        );
        let c = o.attributed_to.as_ref().expect("credit");
        assert_eq!(
            (c.channel, c.campaign.as_deref()),
            (Channel::Search, Some("brand"))
        );
        let late = vec![
            chat("c1", t0, "hi", true),
            order("o", t0 + ATTRIBUTION_WINDOW_MS + 1, Via::Collect),
        ];
        assert_eq!(
            touchpoints(&late, &[])
                .last()
                .and_then(|t| t.attributed_to.clone()),
            None
        );
    }

    #[test]
    fn campaign_touches_before_the_page_still_credit_an_order_on_it() {
        let t0 = 1_764_000_000_000;
        let earlier = vec![chat("c1", t0, "hi", true)];
        let page_events = vec![order("o", t0 + MIN, Via::Collect)];
        let tps = touchpoints(&page_events, &earlier);
        assert_eq!(tps.len(), 1, "earlier events are context, not output");
        assert!(tps[0].attributed_to.is_some());
    }

    #[test]
    fn unknown_message_types_show_their_type() {
        let mut c = chat("c", 1, "", false);
        if let EventData::WhatsappInbound(w) = &mut c.event.data {
            w.text = None;
            w.message_type = "other".into();
            w.original_type = Some("sticker".into());
        }
        assert_eq!(touchpoints_of(&c)[0].detail.as_deref(), Some("[sticker]"));
    }

    #[test]
    fn a_click_to_direct_chat_shows_the_ad_and_is_credited_with_an_order_three_days_later() {
        let t0 = 1_764_000_000_000;
        let dm = stored(
            "ig1",
            t0,
            Via::Webhook,
            crate::instagram::DIRECT_URL,
            EventData::InstagramInbound(InstagramInbound {
                message_id: Some("M1".into()),
                igsid: "990000000000001".into(),
                account_id: None,
                message_type: "text".into(),
                original_type: None,
                text: Some("Is this available?".into()),
                story_id: None,
                referral: Some(InstagramReferral {
                    source: Some("ADS".into()),
                    referral_type: Some("OPEN_THREAD".into()),
                    ad_id: Some("333".into()),
                    reference: None,
                    ad_title: Some("Spring sale".into()),
                    media_url: None,
                }),
            }),
        );
        let visit = stored(
            "pv",
            t0 + 3 * 86_400_000 - MIN,
            Via::Collect,
            "https://shop.example/?tl=x",
            EventData::PageView(PageView {
                title: None,
                attribution: Attribution {
                    referrer_class: Some(ReferrerClass::Instagram),
                    ..Attribution::default()
                },
            }),
        );
        let tps = touchpoints(
            &[dm, visit, order("o", t0 + 3 * 86_400_000, Via::Collect)],
            &[],
        );
        let got: Vec<(Channel, &str, Option<&str>)> = tps
            .iter()
            .map(|t| (t.channel, t.action.as_str(), t.source.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Channel::Instagram, "ad_click", Some("instagram_ad")),
                (Channel::Instagram, "message", Some("instagram_ad")),
                (Channel::Web, "page_view", Some("instagram")),
                (Channel::Web, "order", None),
            ]
        );
        assert_eq!(
            tps[0].ad.as_ref().and_then(|a| a.headline.as_deref()),
            Some("Spring sale")
        );
        let c = tps[3].attributed_to.as_ref().expect("credited");
        assert_eq!(
            (c.channel, c.campaign.as_deref()),
            (Channel::Instagram, Some("333"))
        );
    }
}
