//! Intent rules: a data-driven engine that decides, from a profile's recent
//! history and one new event, which intent signals fire now and which
//! abandonment alarms to set or clear. Pure: time is passed in, nothing is
//! read or written here; the edge stores history, alarms and cooldowns.

use serde::{Deserialize, Serialize};

use crate::schema::EventData;

const MINUTE_MS: i64 = 60 * 1000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

/// What the engine needs to know about one event, whatever its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// A page view (`new_session` when it opened a session).
    PageView {
        /// First page view of its session.
        new_session: bool,
    },
    /// A product page was viewed.
    ProductView {
        /// Its SKU.
        sku: String,
    },
    /// A pricing page was viewed.
    PricingView,
    /// Scroll depth on a pricing page.
    PricingScroll {
        /// Percent, 0..=100.
        depth_pct: u8,
    },
    /// Engaged time on a pricing page.
    PricingEngagement {
        /// Total engaged ms of that page view.
        total_ms: u32,
    },
    /// A search (site search, paid-search term, or a server-sent search).
    Search {
        /// The query.
        query: String,
    },
    /// A checkout step was reached.
    CheckoutStep {
        /// The step slug.
        step: String,
    },
    /// An order was placed.
    Order,
    /// An inbound WhatsApp message with text.
    WhatsappText {
        /// The message text.
        text: String,
    },
    /// Anything the rules do not look at.
    Other,
}

/// One event as the engine sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// The event's id (evidence).
    pub event_id: String,
    /// Event time on the collector's clock, ms.
    pub time: i64,
    /// What it tells the rules.
    pub fact: Fact,
}

impl Fact {
    /// Reads the fact of a web event. `is_pricing_page` says whether the
    /// event happened on a pricing page (the shell knows from the page view).
    pub fn of(data: &EventData, is_pricing_page: bool, new_session: bool) -> Fact {
        match data {
            EventData::PageView(_) => Fact::PageView { new_session },
            EventData::ProductView(p) => Fact::ProductView { sku: p.sku.clone() },
            EventData::PricingView(_) => Fact::PricingView,
            EventData::Scroll(s) if is_pricing_page && s.container.is_none() => {
                Fact::PricingScroll {
                    depth_pct: s.depth_pct,
                }
            }
            EventData::Engagement(e) if is_pricing_page => Fact::PricingEngagement {
                total_ms: e.total_ms,
            },
            EventData::Search(s) => Fact::Search {
                query: s.query.clone(),
            },
            EventData::CheckoutStep(c) => Fact::CheckoutStep {
                step: c.step.clone(),
            },
            EventData::Order(_) => Fact::Order,
            EventData::PaidSearch(p) => Fact::Search {
                query: p.term.clone(),
            },
            EventData::WhatsappInbound(w) => match &w.text {
                Some(text) => Fact::WhatsappText { text: text.clone() },
                None => Fact::Other,
            },
            _ => Fact::Other,
        }
    }
}

/// A rule's condition, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// At least `min_views` pricing views within `window_ms`, and no order since the first of them.
    RepeatPricingView {
        /// Views needed.
        min_views: u32,
        /// Window, ms.
        window_ms: i64,
    },
    /// On one pricing page view: scroll depth >= `min_depth_pct` and engaged >= `min_engaged_ms`.
    DeepPricingRead {
        /// Depth needed, percent.
        min_depth_pct: u8,
        /// Engaged time needed, ms.
        min_engaged_ms: u32,
    },
    /// At least `min_searches` searches within `window_ms` whose query holds a
    /// brand term and a discount term (case-insensitive).
    DiscountSearch {
        /// Searches needed.
        min_searches: u32,
        /// Window, ms.
        window_ms: i64,
        /// The shop's brand words (any one must appear).
        brand_terms: Vec<String>,
        /// Discount words (any one must appear).
        discount_terms: Vec<String>,
    },
    /// One of `steps` reached and no order within `delay_ms` (an alarm).
    CheckoutAbandoned {
        /// Steps that start the clock.
        steps: Vec<String>,
        /// How long to wait for an order, ms.
        delay_ms: i64,
    },
    /// An inbound WhatsApp text holding any of `patterns` (case-insensitive words or phrases).
    WhatsappQuestion {
        /// Phrases to look for.
        patterns: Vec<String>,
    },
    /// A weighted intent score over `window_ms` reaches `threshold`.
    ReturningHighIntent {
        /// Score needed.
        threshold: f64,
        /// Window, ms.
        window_ms: i64,
        /// Points per returning session (after the first).
        per_returning_session: f64,
        /// Points per distinct product beyond the first (comparison).
        per_compared_product: f64,
        /// Points per pricing view.
        per_pricing_view: f64,
        /// Points per checkout step reached.
        per_checkout_step: f64,
    },
    /// The profile's predicted purchase intent (`predict.rs`) reaches
    /// `threshold` (0..=1) while it has not ordered. Decided by [`on_prediction`].
    PredictedIntent {
        /// Score needed.
        threshold: f64,
    },
}

/// One configured rule. (Unknown condition parameters are refused by
/// `Condition`; serde cannot also refuse unknown keys next to a flattened enum.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Rule id, also the signal's `rule`.
    pub id: String,
    /// When it fires.
    #[serde(flatten)]
    pub condition: Condition,
    /// After firing for a profile, it stays quiet for this long, ms.
    pub cooldown_ms: i64,
    /// What the business should do (shown with the signal).
    pub action: String,
    /// An approved WhatsApp template to send the person when this rule fires
    /// (only with `WHATSAPP_NUDGES = "on"` and a known WhatsApp contact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// The rules of PRODUCT.md with their default parameters.
pub fn default_rules() -> Vec<Rule> {
    let rule = |id: &str, condition, cooldown_ms, action: &str| Rule {
        id: id.into(),
        condition,
        cooldown_ms,
        action: action.into(),
        template: None,
    };
    vec![
        rule(
            "repeat_pricing_view",
            Condition::RepeatPricingView {
                min_views: 2,
                window_ms: 7 * DAY_MS,
            },
            DAY_MS,
            "Message them with a pricing offer",
        ),
        rule(
            "deep_pricing_read",
            Condition::DeepPricingRead {
                min_depth_pct: 75,
                min_engaged_ms: 20_000,
            },
            DAY_MS,
            "Offer help choosing a plan or size",
        ),
        rule(
            "discount_search_hand_raiser",
            Condition::DiscountSearch {
                min_searches: 2,
                window_ms: 7 * DAY_MS,
                brand_terms: vec![],
                discount_terms: ["discount", "coupon", "offer", "promo", "sale", "deal"]
                    .map(String::from)
                    .to_vec(),
            },
            7 * DAY_MS,
            "Send a discount code",
        ),
        rule(
            "checkout_abandoned",
            Condition::CheckoutAbandoned {
                steps: vec!["address".into(), "payment".into()],
                delay_ms: 30 * MINUTE_MS,
            },
            DAY_MS,
            "Need help completing your order?",
        ),
        rule(
            "whatsapp_question",
            Condition::WhatsappQuestion {
                patterns: [
                    "cod",
                    "cash on delivery",
                    "price",
                    "discount",
                    "delivery",
                    "available",
                ]
                .map(String::from)
                .to_vec(),
            },
            30 * MINUTE_MS,
            "Answer in the chat now",
        ),
        rule(
            "returning_high_intent",
            Condition::ReturningHighIntent {
                threshold: 3.0,
                window_ms: 7 * DAY_MS,
                per_returning_session: 1.0,
                per_compared_product: 1.0,
                per_pricing_view: 0.5,
                per_checkout_step: 1.0,
            },
            DAY_MS,
            "Call or message: they are close to buying",
        ),
    ]
}

/// Sets the shop's brand words on every discount-search rule.
pub fn set_brand_terms(rules: &mut [Rule], terms: &[String]) {
    for r in rules {
        if let Condition::DiscountSearch { brand_terms, .. } = &mut r.condition {
            *brand_terms = terms.to_vec();
        }
    }
}

/// A signal the engine decided to emit (the shell adds ids, profile and campaign).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// The rule that fired.
    pub rule: String,
    /// Strength, 0..=1 for threshold rules, higher means stronger.
    pub score: f64,
    /// Ids of the events that made it fire, oldest first.
    pub evidence: Vec<String>,
    /// Time of the triggering event, ms.
    pub triggered_at: i64,
    /// What to do.
    pub action: String,
}

/// What the shell must do after an event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// Signals to emit now.
    pub fire: Vec<Firing>,
    /// Alarms to set: (rule id, due time ms). Setting replaces an earlier one.
    pub set_alarms: Vec<(String, i64)>,
    /// Alarms to clear, by rule id.
    pub clear_alarms: Vec<String>,
}

/// When each rule last fired for this profile (rule id, time ms).
pub type Cooldowns = [(String, i64)];

fn cooling(cooldowns: &Cooldowns, rule: &Rule, now: i64) -> bool {
    cooldowns
        .iter()
        .any(|(id, at)| *id == rule.id && now - at < rule.cooldown_ms)
}

fn contains_any(haystack: &str, needles: &[String]) -> bool {
    let h = haystack.to_lowercase();
    needles.iter().any(|n| {
        let n = n.to_lowercase();
        !n.is_empty()
            && h.match_indices(&n).any(|(i, m)| {
                let before = h[..i].chars().next_back();
                let after = h[i + m.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            })
    })
}

/// Decides what `event` triggers, given the profile's `history` (events before
/// it, any order) and the rules' cooldowns.
pub fn evaluate(
    rules: &[Rule],
    history: &[Observed],
    event: &Observed,
    cooldowns: &Cooldowns,
    now: i64,
) -> Decision {
    let mut d = Decision::default();
    for rule in rules {
        // Alarms are bookkeeping, not signals: they are set and cleared even while cooling.
        if let Condition::CheckoutAbandoned { steps, delay_ms } = &rule.condition {
            match &event.fact {
                Fact::CheckoutStep { step } if steps.contains(step) => {
                    d.set_alarms.push((rule.id.clone(), event.time + delay_ms));
                }
                Fact::Order => d.clear_alarms.push(rule.id.clone()),
                _ => {}
            }
            continue;
        }
        if cooling(cooldowns, rule, now) {
            continue;
        }
        if let Some(f) = check(rule, history, event) {
            d.fire.push(f);
        }
    }
    d
}

/// Decides whether the alarm of `rule_id` fires, at `now`.
pub fn on_alarm(
    rules: &[Rule],
    rule_id: &str,
    history: &[Observed],
    cooldowns: &Cooldowns,
    now: i64,
) -> Option<Firing> {
    let rule = rules.iter().find(|r| r.id == rule_id)?;
    let Condition::CheckoutAbandoned { steps, delay_ms } = &rule.condition else {
        return None;
    };
    if cooling(cooldowns, rule, now) {
        return None;
    }
    let mut sorted: Vec<&Observed> = history.iter().collect();
    sorted.sort_by_key(|o| o.time);
    let step = sorted
        .iter()
        .rev()
        .find(|o| matches!(&o.fact, Fact::CheckoutStep { step } if steps.contains(step)))?;
    let ordered_since = sorted
        .iter()
        .any(|o| o.time >= step.time && o.fact == Fact::Order);
    (!ordered_since && now >= step.time + delay_ms).then(|| Firing {
        rule: rule.id.clone(),
        score: 1.0,
        evidence: vec![step.event_id.clone()],
        triggered_at: step.time,
        action: rule.action.clone(),
    })
}

fn within<'a>(history: &'a [Observed], event: &'a Observed, window_ms: i64) -> Vec<&'a Observed> {
    let mut v: Vec<&Observed> = history
        .iter()
        .chain(std::iter::once(event))
        .filter(|o| o.time <= event.time && event.time - o.time <= window_ms)
        .collect();
    v.sort_by_key(|o| o.time);
    v.dedup_by(|a, b| a.event_id == b.event_id);
    v
}

fn firing(rule: &Rule, score: f64, evidence: Vec<&Observed>, event: &Observed) -> Firing {
    Firing {
        rule: rule.id.clone(),
        score,
        evidence: evidence.into_iter().map(|o| o.event_id.clone()).collect(),
        triggered_at: event.time,
        action: rule.action.clone(),
    }
}

fn check(rule: &Rule, history: &[Observed], event: &Observed) -> Option<Firing> {
    match &rule.condition {
        Condition::RepeatPricingView {
            min_views,
            window_ms,
        } => {
            if event.fact != Fact::PricingView {
                return None;
            }
            let recent = within(history, event, *window_ms);
            let views: Vec<&Observed> = recent
                .iter()
                .copied()
                .filter(|o| o.fact == Fact::PricingView)
                .collect();
            let first = views.first()?;
            let ordered = recent
                .iter()
                .any(|o| o.fact == Fact::Order && o.time >= first.time);
            (views.len() >= *min_views as usize && !ordered)
                .then(|| firing(rule, 1.0, views, event))
        }
        Condition::DeepPricingRead {
            min_depth_pct,
            min_engaged_ms,
        } => {
            if !matches!(
                event.fact,
                Fact::PricingScroll { .. } | Fact::PricingEngagement { .. }
            ) {
                return None;
            }
            // The current pricing page view: facts since the last pricing view.
            let recent = within(history, event, DAY_MS);
            let start = recent.iter().rposition(|o| o.fact == Fact::PricingView)?;
            let page = &recent[start..];
            let depth = page.iter().rev().find(|o| matches!(o.fact, Fact::PricingScroll { depth_pct } if depth_pct >= *min_depth_pct));
            let dwell = page.iter().rev().find(|o| matches!(o.fact, Fact::PricingEngagement { total_ms } if total_ms >= *min_engaged_ms));
            let (depth, dwell) = (depth?, dwell?);
            let mut evidence = vec![page[0], *depth, *dwell];
            evidence.sort_by_key(|o| o.time);
            evidence.dedup_by(|a, b| a.event_id == b.event_id);
            Some(firing(rule, 1.0, evidence, event))
        }
        Condition::DiscountSearch {
            min_searches,
            window_ms,
            brand_terms,
            discount_terms,
        } => {
            let hand_raise = |o: &Observed| match &o.fact {
                Fact::Search { query } => {
                    (brand_terms.is_empty() || contains_any(query, brand_terms))
                        && contains_any(query, discount_terms)
                }
                _ => false,
            };
            if !hand_raise(event) {
                return None;
            }
            let hits: Vec<&Observed> = within(history, event, *window_ms)
                .into_iter()
                .filter(|o| hand_raise(o))
                .collect();
            (hits.len() >= *min_searches as usize).then(|| firing(rule, 1.0, hits, event))
        }
        Condition::WhatsappQuestion { patterns } => match &event.fact {
            Fact::WhatsappText { text } if contains_any(text, patterns) => {
                Some(firing(rule, 1.0, vec![event], event))
            }
            _ => None,
        },
        Condition::ReturningHighIntent {
            threshold,
            window_ms,
            per_returning_session,
            per_compared_product,
            per_pricing_view,
            per_checkout_step,
        } => {
            let recent = within(history, event, *window_ms);
            let mut score = 0.0;
            let mut evidence = Vec::new();
            let mut sessions = 0;
            let mut skus: Vec<&str> = Vec::new();
            for o in &recent {
                let points = match &o.fact {
                    Fact::PageView { new_session: true } => {
                        sessions += 1;
                        if sessions > 1 {
                            *per_returning_session
                        } else {
                            0.0
                        }
                    }
                    Fact::ProductView { sku } if !skus.contains(&sku.as_str()) => {
                        skus.push(sku);
                        if skus.len() > 1 {
                            *per_compared_product
                        } else {
                            0.0
                        }
                    }
                    Fact::PricingView => *per_pricing_view,
                    Fact::CheckoutStep { .. } => *per_checkout_step,
                    Fact::Order => return None, // bought: not a lead any more
                    _ => 0.0,
                };
                if points > 0.0 {
                    score += points;
                    evidence.push(*o);
                }
            }
            // Fire on the event that crosses the threshold, not on every later one.
            let crossed_now = evidence
                .last()
                .is_some_and(|o| o.event_id == event.event_id);
            (score >= *threshold && crossed_now && sessions > 1)
                .then(|| firing(rule, (score / threshold).min(9.99), evidence, event))
        }
        Condition::CheckoutAbandoned { .. } | Condition::PredictedIntent { .. } => None,
    }
}

/// Decides which `predicted_intent` rules fire for a new `score` of an open
/// (not converted) profile; `evidence` is the newest event's id.
pub fn on_prediction(
    rules: &[Rule],
    score: f64,
    evidence: &str,
    triggered_at: i64,
    cooldowns: &Cooldowns,
    now: i64,
) -> Vec<Firing> {
    rules
        .iter()
        .filter(|r| !cooling(cooldowns, r, now))
        .filter_map(|r| match r.condition {
            Condition::PredictedIntent { threshold }
                if score.is_finite() && threshold.is_finite() && score >= threshold =>
            {
                Some(Firing {
                    rule: r.id.clone(),
                    score,
                    evidence: vec![evidence.to_owned()],
                    triggered_at,
                    action: r.action.clone(),
                })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ob(id: &str, time: i64, fact: Fact) -> Observed {
        Observed {
            event_id: id.into(),
            time,
            fact,
        }
    }

    fn run(history: &[Observed], event: &Observed) -> Vec<String> {
        evaluate(&default_rules(), history, event, &[], event.time)
            .fire
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn second_pricing_view_within_seven_days_fires_repeat_pricing_view_with_both_as_evidence() {
        let h = [ob("a", 0, Fact::PricingView)];
        let e = ob("b", 3 * DAY_MS, Fact::PricingView);
        let d = evaluate(&default_rules(), &h, &e, &[], e.time);
        let f = d
            .fire
            .iter()
            .find(|f| f.rule == "repeat_pricing_view")
            .expect("fired");
        assert_eq!(f.evidence, ["a", "b"]);
        assert_eq!(f.triggered_at, 3 * DAY_MS);
    }

    #[test]
    fn pricing_views_eight_days_apart_or_after_an_order_do_not_fire() {
        assert!(run(
            &[ob("a", 0, Fact::PricingView)],
            &ob("b", 8 * DAY_MS, Fact::PricingView)
        )
        .is_empty());
        let h = [ob("a", 0, Fact::PricingView), ob("o", 10, Fact::Order)];
        assert!(
            !run(&h, &ob("b", 20, Fact::PricingView)).contains(&"repeat_pricing_view".to_string())
        );
    }

    #[test]
    fn cooldown_keeps_a_rule_quiet_for_the_same_profile() {
        let h = [ob("a", 0, Fact::PricingView)];
        let e = ob("b", 1000, Fact::PricingView);
        let cool = [("repeat_pricing_view".to_string(), 500)];
        let d = evaluate(&default_rules(), &h, &e, &cool, e.time);
        assert!(d.fire.iter().all(|f| f.rule != "repeat_pricing_view"));
        let d = evaluate(&default_rules(), &h, &e, &cool, 500 + DAY_MS);
        assert!(d.fire.iter().any(|f| f.rule == "repeat_pricing_view"));
    }

    #[test]
    fn deep_pricing_read_needs_depth_and_dwell_on_the_same_page_view() {
        let h = [
            ob("pv", 0, Fact::PricingView),
            ob("s", 10, Fact::PricingScroll { depth_pct: 80 }),
        ];
        let e = ob("en", 20, Fact::PricingEngagement { total_ms: 21_000 });
        let d = evaluate(&default_rules(), &h, &e, &[], 20);
        let f = d
            .fire
            .iter()
            .find(|f| f.rule == "deep_pricing_read")
            .expect("fired");
        assert_eq!(f.evidence, ["pv", "s", "en"]);
        let shallow = [
            ob("pv", 0, Fact::PricingView),
            ob("s", 10, Fact::PricingScroll { depth_pct: 50 }),
        ];
        assert!(!run(&shallow, &e).contains(&"deep_pricing_read".to_string()));
    }

    #[test]
    fn two_brand_discount_searches_raise_a_hand() {
        let mut rules = default_rules();
        set_brand_terms(&mut rules, &["saathi".into()]);
        let q = |id: &str, t, s: &str| ob(id, t, Fact::Search { query: s.into() });
        let h = [q("a", 0, "Saathi discount code"), q("x", 5, "silk saree")];
        let fire = |e: &Observed| {
            evaluate(&rules, &h, e, &[], e.time)
                .fire
                .into_iter()
                .map(|f| (f.rule, f.evidence))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fire(&q("b", 10, "saathi coupon")),
            [(
                "discount_search_hand_raiser".into(),
                vec!["a".to_string(), "b".to_string()]
            )]
        );
        assert!(fire(&q("c", 10, "saathi kurta")).is_empty());
        assert!(
            fire(&q("d", 10, "discounted saathi")).is_empty(),
            "whole words only"
        );
    }

    #[test]
    fn address_step_sets_an_alarm_and_an_order_clears_it() {
        let step = ob(
            "s",
            1000,
            Fact::CheckoutStep {
                step: "address".into(),
            },
        );
        let d = evaluate(&default_rules(), &[], &step, &[], 1000);
        assert_eq!(
            d.set_alarms,
            [("checkout_abandoned".to_string(), 1000 + 30 * MINUTE_MS)]
        );
        let d = evaluate(
            &default_rules(),
            std::slice::from_ref(&step),
            &ob("o", 2000, Fact::Order),
            &[],
            2000,
        );
        assert_eq!(d.clear_alarms, ["checkout_abandoned"]);
        let cart = ob(
            "c",
            1000,
            Fact::CheckoutStep {
                step: "cart".into(),
            },
        );
        assert!(evaluate(&default_rules(), &[], &cart, &[], 1000)
            .set_alarms
            .is_empty());
    }

    #[test]
    fn abandonment_alarm_fires_only_without_an_order_since_the_step() {
        let rules = default_rules();
        let step = ob(
            "s",
            0,
            Fact::CheckoutStep {
                step: "payment".into(),
            },
        );
        let due = 30 * MINUTE_MS;
        let f = on_alarm(
            &rules,
            "checkout_abandoned",
            std::slice::from_ref(&step),
            &[],
            due,
        )
        .expect("fires");
        assert_eq!((f.evidence, f.triggered_at), (vec!["s".to_string()], 0));
        assert!(on_alarm(
            &rules,
            "checkout_abandoned",
            &[step.clone(), ob("o", 5, Fact::Order)],
            &[],
            due
        )
        .is_none());
        assert!(
            on_alarm(
                &rules,
                "checkout_abandoned",
                std::slice::from_ref(&step),
                &[],
                due - 1
            )
            .is_none(),
            "not yet due"
        );
        assert!(on_alarm(&rules, "no_such_rule", &[step], &[], due).is_none());
    }

    #[test]
    fn whatsapp_question_matches_configured_phrases_as_words() {
        let t = |s: &str| ob("m", 0, Fact::WhatsappText { text: s.into() });
        assert_eq!(run(&[], &t("Is COD available?")), ["whatsapp_question"]);
        assert!(run(&[], &t("thanks, see you")).is_empty());
        assert!(
            run(&[], &t("my code is 123")).is_empty(),
            "'cod' inside 'code' is not COD"
        );
    }

    #[test]
    fn returning_visitor_comparing_products_crosses_the_intent_threshold_once() {
        let pv = |id: &str, t, new| ob(id, t, Fact::PageView { new_session: new });
        let prod = |id: &str, t, sku: &str| ob(id, t, Fact::ProductView { sku: sku.into() });
        let h = vec![
            pv("p1", 0, true),
            prod("k1", 1, "KURTA"),
            pv("p2", DAY_MS, true),
            prod("s1", DAY_MS + 1, "SAREE"),
        ];
        // 2nd session (+1), 2nd product (+1): 2 points; a pricing view adds 0.5, a checkout step 1.
        assert!(run(&h, &ob("pr", DAY_MS + 2, Fact::PricingView))
            .iter()
            .all(|r| r != "returning_high_intent"));
        let mut h2 = h.clone();
        h2.push(ob("pr", DAY_MS + 2, Fact::PricingView));
        let e = ob(
            "c",
            DAY_MS + 3,
            Fact::CheckoutStep {
                step: "cart".into(),
            },
        );
        let d = evaluate(&default_rules(), &h2, &e, &[], e.time);
        let f = d
            .fire
            .iter()
            .find(|f| f.rule == "returning_high_intent")
            .expect("fired");
        assert_eq!(f.evidence, ["p2", "s1", "pr", "c"]);
        assert!((f.score - 3.5 / 3.0).abs() < 1e-9);
        let mut h3 = h2.clone();
        h3.push(e);
        assert!(
            run(&h3, &ob("z", DAY_MS + 4, Fact::Other)).is_empty(),
            "no re-fire on unrelated events"
        );
    }

    #[test]
    fn predicted_intent_fires_at_its_threshold_and_respects_its_cooldown() {
        let rules: Vec<Rule> = serde_json::from_str(
            r#"[{"id":"predicted_intent","when":"predicted_intent","threshold":0.7,"cooldown_ms":1000,"action":"Call them"}]"#,
        )
        .expect("rules");
        assert!(on_prediction(&rules, 0.69, "e", 5, &[], 5).is_empty());
        let f = on_prediction(&rules, 0.8, "e", 5, &[], 5);
        assert_eq!(
            (f[0].rule.as_str(), f[0].score, f[0].evidence.as_slice()),
            ("predicted_intent", 0.8, ["e".to_owned()].as_slice())
        );
        assert!(
            on_prediction(&rules, 0.9, "e", 5, &[("predicted_intent".into(), 4)], 5).is_empty()
        );
        assert!(on_prediction(&rules, f64::NAN, "e", 5, &[], 5).is_empty());
        assert!(
            on_prediction(&default_rules(), 1.0, "e", 5, &[], 5).is_empty(),
            "off by default"
        );
        let e = ob("x", 0, Fact::PricingView);
        assert!(
            evaluate(&rules, &[], &e, &[], 0).fire.is_empty(),
            "events alone never fire it"
        );
    }

    #[test]
    fn rules_round_trip_through_json_configuration() {
        let json = serde_json::to_string(&default_rules()).expect("json");
        let back: Vec<Rule> = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, default_rules());
        let bad = r#"[{"id":"x","when":"teleport","cooldown_ms":1,"action":"a"}]"#;
        assert!(serde_json::from_str::<Vec<Rule>>(bad).is_err());
    }
}
