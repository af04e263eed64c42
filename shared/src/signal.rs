//! Intent signals as they leave Touchline, and the delivery decisions for
//! them: ids, the signed payload, what to retry and how long to wait.

use serde::{Deserialize, Serialize};

use crate::rules::{Fact, Firing, Observed};
use crate::schema::EventData;
use crate::timeline::{campaign_touch, Stored};

/// A signal, as POSTed to webhooks and listed by `GET /v1/signals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable id: the same rule firing on the same evidence gets the same id,
    /// so it doubles as the `Idempotency-Key`.
    pub id: String,
    /// Rule that fired.
    pub rule: String,
    /// Profile it is about.
    pub profile_id: String,
    /// Strength (1 for plain rules; threshold rules report score / threshold).
    pub score: f64,
    /// Event ids that made it fire, oldest first.
    pub evidence: Vec<String>,
    /// Campaign the profile is attributed to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Time of the triggering event, ms.
    pub triggered_at: i64,
    /// Time the signal was emitted, ms.
    pub emitted_at: i64,
    /// Suggested action.
    pub action: String,
}

/// 64-bit FNV-1a: a stable, dependency-free hash for ids (not for security).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Signal {
    /// Builds the signal of a firing for `profile_id` at `now`.
    pub fn new(profile_id: &str, firing: Firing, campaign: Option<String>, now: i64) -> Signal {
        let mut parts: Vec<&str> = vec![profile_id, &firing.rule];
        parts.extend(firing.evidence.iter().map(String::as_str));
        let id = format!("sig_{:016x}", fnv1a(&parts));
        Signal {
            id,
            rule: firing.rule,
            profile_id: profile_id.to_owned(),
            score: firing.score,
            evidence: firing.evidence,
            campaign,
            triggered_at: firing.triggered_at,
            emitted_at: now,
            action: firing.action,
        }
    }
}

/// What the rules see of a timeline (any order in, time order out): marks
/// which page views open a session and which scroll/engagement events
/// belong to a pricing page (one that sent a `pricing_view`).
pub fn observe(timeline: &[Stored]) -> Vec<Observed> {
    let mut sorted: Vec<&Stored> = timeline.iter().collect();
    sorted.sort_by_key(|s| (s.time, s.event.seq));
    let mut seen_sessions: Vec<&str> = Vec::new();
    let mut pricing_urls: Vec<(&str, &str)> = Vec::new();
    for s in &sorted {
        if let EventData::PricingView(_) = s.event.data {
            pricing_urls.push((&s.event.session_id, &s.event.url));
        }
    }
    sorted
        .iter()
        .map(|s| {
            let e = &s.event;
            let new_session = matches!(e.data, EventData::PageView(_))
                && !seen_sessions.contains(&e.session_id.as_str());
            if new_session {
                seen_sessions.push(&e.session_id);
            }
            let on_pricing = pricing_urls.contains(&(e.session_id.as_str(), e.url.as_str()));
            Observed {
                event_id: e.event_id.clone(),
                time: s.time,
                fact: Fact::of(&e.data, on_pricing, new_session),
            }
        })
        .collect()
}

/// The campaign a timeline is attributed to: the latest campaign touch
/// (a campaign landing, a click-to-WhatsApp chat, a search or Instagram ad),
/// named by campaign, else by source.
pub fn attributed_campaign(timeline: &[Stored]) -> Option<String> {
    timeline
        .iter()
        .filter_map(campaign_touch)
        .max_by_key(|c| c.time)
        .and_then(|c| c.campaign.or(c.source))
}

/// What to do after one webhook delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// 2xx: done.
    Delivered,
    /// Network error, timeout, 408, 429 or 5xx: try again later.
    Retry,
    /// Any other 4xx (or a 3xx): the receiver refuses it; retrying will not help.
    Refused,
}

/// Classifies an attempt by its HTTP status (`None`: no response at all).
pub fn classify(status: Option<u16>) -> Delivery {
    match status {
        Some(200..=299) => Delivery::Delivered,
        None | Some(408) | Some(429) | Some(500..=599) => Delivery::Retry,
        Some(_) => Delivery::Refused,
    }
}

/// Longest wait between two attempts, seconds.
pub const MAX_BACKOFF_SECONDS: u32 = 300;

/// Exponential backoff before attempt `attempt + 1` (attempts count from 1):
/// `base`, `2·base`, `4·base`, … capped at [`MAX_BACKOFF_SECONDS`].
pub fn backoff_seconds(attempt: u32, base: u32) -> u32 {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF_SECONDS)
}

/// The bytes a webhook signature covers: `"<timestamp>.<body>"`, so a
/// captured body cannot be replayed under a new timestamp.
pub fn signed_payload(timestamp: i64, body: &str) -> String {
    format!("{timestamp}.{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;
    use crate::timeline::Via;
    use crate::Attribution;

    fn ev(id: &str, session: &str, url: &str, data: EventData) -> Event {
        Event {
            schema: 1,
            site_id: "demo".into(),
            visitor_id: "v1".into(),
            session_id: session.into(),
            event_id: id.into(),
            ts: 0,
            seq: 0,
            url: url.into(),
            referrer: None,
            data,
        }
    }

    fn pv(campaign: Option<&str>) -> EventData {
        EventData::PageView(PageView {
            title: None,
            attribution: Attribution {
                utm_campaign: campaign.map(String::from),
                ..Attribution::default()
            },
        })
    }

    #[test]
    fn same_rule_on_same_evidence_gets_the_same_id() {
        let f = Firing {
            rule: "r".into(),
            score: 1.0,
            evidence: vec!["a".into(), "b".into()],
            triggered_at: 5,
            action: "x".into(),
        };
        let a = Signal::new("p1", f.clone(), None, 10);
        let b = Signal::new("p1", f.clone(), None, 99);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, Signal::new("p2", f, None, 10).id);
        assert!(a.id.starts_with("sig_") && a.id.len() == 20);
    }

    #[test]
    fn observing_marks_new_sessions_and_pricing_page_scrolls() {
        let t = |time, e| Stored {
            time,
            via: Via::Collect,
            event: e,
        };
        let url = "https://s.example/pricing";
        let timeline = [
            t(
                3,
                ev(
                    "sc",
                    "s1",
                    url,
                    EventData::Scroll(Scroll {
                        depth_pct: 80,
                        milestone: Some(75),
                        container: None,
                    }),
                ),
            ),
            t(1, ev("p1", "s1", url, pv(None))),
            t(
                2,
                ev(
                    "pr",
                    "s1",
                    url,
                    EventData::PricingView(PricingView { count_7d: 1 }),
                ),
            ),
            t(4, ev("p2", "s1", "https://s.example/", pv(None))),
            t(5, ev("p3", "s2", "https://s.example/", pv(None))),
        ];
        let facts: Vec<(String, Fact)> = observe(&timeline)
            .into_iter()
            .map(|o| (o.event_id, o.fact))
            .collect();
        assert_eq!(
            facts,
            [
                ("p1".to_string(), Fact::PageView { new_session: true }),
                ("pr".into(), Fact::PricingView),
                ("sc".into(), Fact::PricingScroll { depth_pct: 80 }),
                ("p2".into(), Fact::PageView { new_session: false }),
                ("p3".into(), Fact::PageView { new_session: true }),
            ]
        );
    }

    #[test]
    fn the_latest_campaign_touch_is_attributed() {
        let t = |time, id: &str, c| Stored {
            time,
            via: Via::Collect,
            event: ev(id, "s", "https://s.example/", pv(c)),
        };
        assert_eq!(
            attributed_campaign(&[
                t(1, "a", Some("diwali")),
                t(2, "b", None),
                t(3, "c", Some("eid"))
            ]),
            Some("eid".into())
        );
        assert_eq!(attributed_campaign(&[t(1, "a", None)]), None);
    }

    #[test]
    fn deliveries_retry_on_network_errors_408_429_and_5xx_only() {
        assert_eq!(classify(Some(200)), Delivery::Delivered);
        assert_eq!(classify(Some(204)), Delivery::Delivered);
        for s in [None, Some(408), Some(429), Some(500), Some(503)] {
            assert_eq!(classify(s), Delivery::Retry, "{s:?}");
        }
        for s in [Some(400), Some(401), Some(404), Some(410), Some(302)] {
            assert_eq!(classify(s), Delivery::Refused, "{s:?}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(
            (1..=5).map(|a| backoff_seconds(a, 2)).collect::<Vec<_>>(),
            [2, 4, 8, 16, 32]
        );
        assert_eq!(backoff_seconds(30, 2), MAX_BACKOFF_SECONDS);
        assert_eq!(backoff_seconds(3, 0), 0);
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        assert_eq!(
            signed_payload(1700000000, "{\"a\":1}"),
            "1700000000.{\"a\":1}"
        );
    }
}
