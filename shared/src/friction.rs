//! Friction insights: where people stop on the way to an order, how long they
//! spent at that step, what they did last, and what they asked on WhatsApp.
//!
//! Two halves: [`summarize`] reads one profile's timeline into a small
//! [`Summary`] (the edge stores it per profile), and [`report`] aggregates the
//! summaries of a site into per-step numbers. Pure and total: empty input, a
//! single event or no conversions give zeros and explicit "not enough data"
//! flags, never NaN.

use serde::{Deserialize, Serialize};

use crate::schema::EventData;
use crate::timeline::Stored;

/// The funnel steps, in order. `visit` is any first touch.
pub const FUNNEL: [&str; 6] = ["visit", "product", "cart", "address", "payment", "order"];
/// How many last events a summary keeps.
pub const LAST_EVENTS: usize = 3;
/// Most example profile ids per count.
pub const MAX_EXAMPLES: usize = 3;
/// Most sequences and questions listed per step.
pub const MAX_LISTED: usize = 5;
/// An open profile quiet for less than this is still in progress, not gone, ms.
pub const SETTLE_MS: i64 = 30 * 60 * 1000;
/// Fewer profiles than this in a range: the report says `enough_data: false`.
pub const MIN_PROFILES: usize = 10;

/// What a WhatsApp question is about (a small keyword classifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Cash on delivery.
    Cod,
    /// Delivery time, shipping, courier.
    Delivery,
    /// Price, discount, offers.
    Price,
    /// Size and fit.
    Size,
    /// Whether something is in stock.
    Availability,
    /// Returns, exchanges, refunds.
    Returns,
}

impl Topic {
    /// Every topic, in display order.
    pub const ALL: [Topic; 6] = [
        Topic::Cod,
        Topic::Delivery,
        Topic::Price,
        Topic::Size,
        Topic::Availability,
        Topic::Returns,
    ];

    /// The label people read.
    pub fn label(self) -> &'static str {
        match self {
            Topic::Cod => "COD",
            Topic::Delivery => "delivery",
            Topic::Price => "price",
            Topic::Size => "size",
            Topic::Availability => "availability",
            Topic::Returns => "returns",
        }
    }

    fn keywords(self) -> &'static [&'static str] {
        match self {
            Topic::Cod => &[
                "cod",
                "cash on delivery",
                "cash-on-delivery",
                "pay on delivery",
            ],
            Topic::Delivery => &[
                "delivery", "deliver", "shipping", "ship", "courier", "dispatch", "arrive",
            ],
            Topic::Price => &[
                "price", "cost", "how much", "discount", "offer", "coupon", "cheaper", "rate",
            ],
            Topic::Size => &[
                "size",
                "sizes",
                "xl",
                "xxl",
                "xs",
                "fit",
                "measurement",
                "length",
            ],
            Topic::Availability => &["available", "availability", "in stock", "stock"],
            Topic::Returns => &["return", "returns", "exchange", "refund"],
        }
    }
}

/// Finds `needle` in `hay` as whole words (both already lowercase).
fn has_word(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, m)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + m.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The topics of one message, in [`Topic::ALL`] order. "Cash on delivery" is
/// COD, not a delivery question, unless delivery is also asked about.
pub fn topics(text: &str) -> Vec<Topic> {
    let mut t = text.to_lowercase();
    let mut out = Vec::new();
    if Topic::Cod.keywords().iter().any(|k| has_word(&t, k)) {
        out.push(Topic::Cod);
        for k in Topic::Cod.keywords() {
            t = t.replace(k, " ");
        }
    }
    for topic in &Topic::ALL[1..] {
        if topic.keywords().iter().any(|k| has_word(&t, k)) {
            out.push(*topic);
        }
    }
    out
}

/// One profile, as the friction view needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Index in [`FUNNEL`] of the furthest step reached.
    pub furthest: usize,
    /// When that step was first reached, ms.
    pub reached_at: i64,
    /// Time of the last event before leaving (or before the first order), ms.
    pub last_time: i64,
    /// An order was placed.
    pub converted: bool,
    /// Labels of the last meaningful events before leaving, oldest first.
    pub last_events: Vec<String>,
    /// Topics asked on WhatsApp (before the first order), each once.
    pub topics: Vec<Topic>,
}

fn step_index(data: &EventData) -> Option<usize> {
    match data {
        EventData::ProductView(_) => Some(1),
        EventData::CheckoutStep(c) => match c.step.as_str() {
            "cart" => Some(2),
            "address" | "shipping" => Some(3),
            "payment" | "confirmation" => Some(4),
            _ => Some(2),
        },
        EventData::Order(_) => Some(5),
        _ => Some(0),
    }
}

/// A short label of an event for "what they did last"; `None` for events
/// that say little on their own (scroll, engagement, identify).
pub fn label(data: &EventData) -> Option<String> {
    Some(match data {
        EventData::Scroll(_) | EventData::Engagement(_) | EventData::Identify(_) => return None,
        EventData::PageView(_) => "visit".into(),
        EventData::CheckoutStep(c) => format!("{} step", c.step),
        EventData::WhatsappInbound(w) => {
            let t = w.text.as_deref().map(topics).unwrap_or_default();
            match t.first() {
                Some(topic) => format!("WhatsApp question about {}", topic.label()),
                None => "WhatsApp message".into(),
            }
        }
        EventData::Custom(c) => format!("custom:{}", c.name),
        d => d.kind().replace('_', " "),
    })
}

/// Reads a timeline (any order) into a summary; `None` when it is empty.
/// Only what happened before the first order counts.
pub fn summarize(timeline: &[Stored]) -> Option<Summary> {
    let mut sorted: Vec<&Stored> = timeline.iter().collect();
    sorted.sort_by_key(|s| (s.time, s.event.seq));
    let first = sorted.first()?;
    let (mut furthest, mut reached_at) = (0, first.time);
    let mut last_time = first.time;
    let mut last_events: Vec<String> = Vec::new();
    let mut asked: Vec<Topic> = Vec::new();
    let mut converted = false;
    for s in &sorted {
        let step = step_index(&s.event.data).unwrap_or(0);
        if step > furthest {
            furthest = step;
            reached_at = s.time;
        }
        if matches!(s.event.data, EventData::Order(_)) {
            converted = true;
            break;
        }
        last_time = s.time;
        if let EventData::WhatsappInbound(w) = &s.event.data {
            for t in w.text.as_deref().map(topics).unwrap_or_default() {
                if !asked.contains(&t) {
                    asked.push(t);
                }
            }
        }
        if let Some(l) = label(&s.event.data) {
            if last_events.last() != Some(&l) {
                last_events.push(l);
            }
        }
    }
    let keep = last_events.len().saturating_sub(LAST_EVENTS);
    last_events.drain(..keep);
    asked.sort();
    Some(Summary {
        furthest,
        reached_at,
        last_time,
        converted,
        last_events,
        topics: asked,
    })
}

/// A count with a few example profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    /// What is counted: a sequence such as "payment step → WhatsApp question
    /// about COD", or a question topic.
    pub what: String,
    /// How many profiles.
    pub count: usize,
    /// Some of them.
    pub examples: Vec<String>,
}

/// One funnel step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFriction {
    /// The step's name ([`FUNNEL`]).
    pub step: String,
    /// Profiles that reached it (settled or converted).
    pub reached: usize,
    /// Profiles whose furthest step it was and who left without ordering.
    pub left: usize,
    /// `left / reached`, 0 when nobody reached it.
    pub drop_off: f64,
    /// Median time from reaching the step to the last event of those who
    /// left here, ms; `None` when nobody left here.
    pub median_ms_before_leaving: Option<i64>,
    /// The most common last events of those who left here.
    pub last_events: Vec<Counted>,
    /// The most asked WhatsApp topics of those who left here.
    pub questions: Vec<Counted>,
}

/// The friction view of a site over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Profiles looked at.
    pub profiles: usize,
    /// Of which ordered.
    pub converted: usize,
    /// Open and active within [`SETTLE_MS`]: not counted as having left yet.
    pub in_progress: usize,
    /// Open and quiet for longer: they left.
    pub abandoned: usize,
    /// At least [`MIN_PROFILES`] settled profiles.
    pub enough_data: bool,
    /// Why the numbers say little, when they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Per step, in funnel order.
    pub steps: Vec<StepFriction>,
    /// WhatsApp topics asked by everyone who left, most asked first.
    pub questions: Vec<Counted>,
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        v[n / 2 - 1] / 2 + v[n / 2] / 2 + (v[n / 2 - 1] % 2 + v[n / 2] % 2) / 2
    })
}

fn tally<'a>(items: impl Iterator<Item = (String, &'a str)>) -> Vec<Counted> {
    let mut out: Vec<Counted> = Vec::new();
    for (what, id) in items {
        match out.iter_mut().find(|c| c.what == what) {
            Some(c) => {
                c.count += 1;
                if c.examples.len() < MAX_EXAMPLES {
                    c.examples.push(id.to_owned());
                }
            }
            None => out.push(Counted {
                what,
                count: 1,
                examples: vec![id.to_owned()],
            }),
        }
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.what.cmp(&b.what)));
    out.truncate(MAX_LISTED);
    out
}

/// Aggregates `(profile id, summary)` pairs at `now`.
pub fn report(rows: &[(String, Summary)], now: i64) -> Report {
    let settled: Vec<&(String, Summary)> = rows
        .iter()
        .filter(|(_, s)| s.converted || now.saturating_sub(s.last_time) >= SETTLE_MS)
        .collect();
    let converted = settled.iter().filter(|(_, s)| s.converted).count();
    let left: Vec<&(String, Summary)> = settled
        .iter()
        .copied()
        .filter(|(_, s)| !s.converted)
        .collect();
    let steps = FUNNEL
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let reached = settled
                .iter()
                .filter(|(_, s)| s.furthest.min(FUNNEL.len() - 1) >= i)
                .count();
            let here: Vec<&&(String, Summary)> =
                left.iter().filter(|(_, s)| s.furthest == i).collect();
            let drop_off = if reached == 0 {
                0.0
            } else {
                here.len() as f64 / reached as f64
            };
            StepFriction {
                step: (*name).into(),
                reached,
                left: here.len(),
                drop_off,
                median_ms_before_leaving: median(
                    here.iter()
                        .map(|(_, s)| s.last_time.saturating_sub(s.reached_at).max(0))
                        .collect(),
                ),
                last_events: tally(
                    here.iter()
                        .filter(|(_, s)| !s.last_events.is_empty())
                        .map(|(id, s)| (s.last_events.join(" → "), id.as_str())),
                ),
                questions: tally(here.iter().flat_map(|(id, s)| {
                    s.topics.iter().map(|t| (t.label().to_owned(), id.as_str()))
                })),
            }
        })
        .collect();
    let enough_data = settled.len() >= MIN_PROFILES;
    let note = if rows.is_empty() {
        Some("not enough data: no journeys in this range".to_owned())
    } else if !enough_data {
        Some(format!(
            "not enough data: {} finished journeys, at least {MIN_PROFILES} are needed",
            settled.len()
        ))
    } else if converted == 0 {
        Some("no orders in this range yet: every finished journey counts as left".to_owned())
    } else {
        None
    };
    Report {
        profiles: rows.len(),
        converted,
        in_progress: rows.len() - settled.len(),
        abandoned: left.len(),
        enough_data,
        note,
        steps,
        questions: tally(
            left.iter()
                .flat_map(|(id, s)| s.topics.iter().map(|t| (t.label().to_owned(), id.as_str()))),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::schema::*;
    use crate::timeline::Via;

    pub(crate) fn ev(id: &str, time: i64, session: &str, url: &str, data: EventData) -> Stored {
        Stored {
            time,
            via: Via::Collect,
            event: Event {
                schema: 1,
                site_id: "demo".into(),
                visitor_id: "v1".into(),
                session_id: session.into(),
                event_id: id.into(),
                ts: time,
                seq: 0,
                url: url.into(),
                referrer: None,
                data,
            },
        }
    }

    pub(crate) fn chat(id: &str, time: i64, text: &str) -> Stored {
        let mut s = ev(
            id,
            time,
            "wa",
            "https://wa.me/1",
            EventData::WhatsappInbound(WhatsappInbound {
                message_id: format!("wamid.{id}"),
                wa: "1555".into(),
                wa_id: None,
                user_id: None,
                profile_name: None,
                message_type: "text".into(),
                original_type: None,
                text: Some(text.into()),
                referral: None,
                phone_number_id: None,
            }),
        );
        s.via = Via::Webhook;
        s
    }

    pub(crate) fn step(id: &str, time: i64, name: &str) -> Stored {
        ev(
            id,
            time,
            "s1",
            &format!("https://shop.example/checkout/{name}"),
            EventData::CheckoutStep(CheckoutStep { step: name.into() }),
        )
    }

    pub(crate) fn order(id: &str, time: i64) -> Stored {
        ev(
            id,
            time,
            "s1",
            "https://shop.example/checkout/confirmation",
            EventData::Order(Order {
                order_id: format!("O-{id}"),
                value: 100.0,
                currency: "INR".into(),
                payment_method: Some("cod".into()),
            }),
        )
    }

    pub(crate) fn visit(id: &str, time: i64, session: &str, url: &str) -> Stored {
        ev(
            id,
            time,
            session,
            url,
            EventData::PageView(PageView {
                title: None,
                attribution: Default::default(),
            }),
        )
    }

    const MIN: i64 = 60_000;

    #[test]
    fn questions_are_classified_by_keyword_and_cash_on_delivery_is_cod_only() {
        assert_eq!(
            topics("Is COD available?"),
            [Topic::Cod, Topic::Availability]
        );
        assert_eq!(topics("cash on delivery possible?"), [Topic::Cod]);
        assert_eq!(
            topics("What is the delivery time to Pune?"),
            [Topic::Delivery]
        );
        assert_eq!(topics("Price for 2 pieces?"), [Topic::Price]);
        assert_eq!(topics("do you have XL size"), [Topic::Size]);
        assert_eq!(topics("my code is 123"), Vec::<Topic>::new());
        assert_eq!(topics(""), Vec::<Topic>::new());
    }

    #[test]
    fn a_summary_keeps_the_furthest_step_and_the_last_events_before_the_order() {
        let t = vec![
            visit("a", 0, "s1", "https://shop.example/"),
            step("b", MIN, "cart"),
            step("c", 2 * MIN, "address"),
            chat("d", 5 * MIN, "Is COD available?"),
            step("e", 6 * MIN, "payment"),
            chat("f", 9 * MIN, "what about delivery to Pune"),
        ];
        let s = summarize(&t).expect("summary");
        assert_eq!(
            (s.furthest, s.reached_at, s.last_time),
            (4, 6 * MIN, 9 * MIN)
        );
        assert_eq!(
            s.last_events,
            [
                "WhatsApp question about COD",
                "payment step",
                "WhatsApp question about delivery"
            ]
        );
        assert_eq!(s.topics, [Topic::Cod, Topic::Delivery, Topic::Availability]);
        assert!(!s.converted);
        let mut bought = t.clone();
        bought.push(order("o", 10 * MIN));
        bought.push(chat("g", 20 * MIN, "refund please"));
        let s = summarize(&bought).expect("summary");
        assert!(s.converted);
        assert_eq!(s.furthest, 5);
        assert!(!s.topics.contains(&Topic::Returns), "after the order");
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn the_report_counts_drop_off_time_before_leaving_sequences_and_questions() {
        let now = 1_000 * MIN;
        let mut rows = Vec::new();
        for i in 0..6 {
            // Left at the payment step after asking about COD, 4 + i minutes there.
            let t = vec![
                visit("a", 0, "s1", "https://shop.example/"),
                step("b", MIN, "payment"),
                chat("c", (5 + i) * MIN, "COD?"),
            ];
            rows.push((format!("p{i}"), summarize(&t).expect("s")));
        }
        for i in 0..4 {
            let t = vec![
                visit("a", 0, "s1", "https://shop.example/"),
                step("b", MIN, "payment"),
                order("o", 2 * MIN),
            ];
            rows.push((format!("b{i}"), summarize(&t).expect("s")));
        }
        // Still browsing: not counted as gone.
        let live = vec![visit("a", now - MIN, "s9", "https://shop.example/")];
        rows.push(("live".into(), summarize(&live).expect("s")));
        let r = report(&rows, now);
        assert_eq!(
            (r.profiles, r.converted, r.in_progress, r.abandoned),
            (11, 4, 1, 6)
        );
        assert!(r.enough_data);
        let pay = &r.steps[4];
        assert_eq!((pay.reached, pay.left), (10, 6));
        assert!((pay.drop_off - 0.6).abs() < 1e-12);
        // Times there: 4..=9 minutes, median 6.5 minutes.
        assert_eq!(pay.median_ms_before_leaving, Some(6 * MIN + MIN / 2));
        assert_eq!(
            pay.last_events[0].what,
            "visit → payment step → WhatsApp question about COD"
        );
        assert_eq!(pay.last_events[0].count, 6);
        assert_eq!(pay.last_events[0].examples, ["p0", "p1", "p2"]);
        assert_eq!(
            (pay.questions[0].what.as_str(), pay.questions[0].count),
            ("COD", 6)
        );
        assert_eq!(r.steps[5].reached, 4);
        assert_eq!(r.steps[2].left, 0);
        assert_eq!(r.steps[2].median_ms_before_leaving, None);
    }

    #[test]
    fn empty_and_tiny_inputs_give_zeros_and_a_not_enough_data_note_never_nan() {
        let r = report(&[], 0);
        assert!(!r.enough_data);
        assert!(r
            .note
            .as_deref()
            .is_some_and(|n| n.contains("not enough data")));
        assert!(r.steps.iter().all(|s| s.drop_off == 0.0 && s.reached == 0));
        let one = summarize(&[visit("a", 5, "s", "https://x/")]).expect("s");
        assert_eq!((one.furthest, one.reached_at, one.last_time), (0, 5, 5));
        let r = report(&[("p".into(), one)], i64::MAX);
        assert_eq!(r.steps[0].drop_off, 1.0);
        assert_eq!(r.steps[0].median_ms_before_leaving, Some(0));
        assert!(!r.enough_data);
        let extreme = summarize(&[
            visit("a", i64::MIN, "s", "u"),
            visit("b", i64::MAX, "s", "u"),
        ])
        .expect("s");
        let r = report(&[("p".into(), extreme)], i64::MAX);
        assert!(r.steps.iter().all(|s| s.drop_off.is_finite()));
        assert_eq!(median(vec![i64::MAX, i64::MAX]), Some(i64::MAX));
    }
}
