//! Evaluation of the predicted-intent model on generated journeys (numbers,
//! not pass/fail). `npm run bench:predict` runs it and writes its output into
//! BENCHMARKS.md:
//!
//! ```text
//! cargo run -p touchline-shared --example predict_eval --features validate --release
//! ```
//!
//! The generating process (seeded, deterministic). Each person has a hidden
//! intent `u ~ N(0, 1)`. From it, with independent noise at every step:
//! - first touch: ads, search, Instagram, a click-to-WhatsApp chat or direct
//!   (uniform, unrelated to `u`);
//! - sessions `1 + Poisson(exp(-0.7 + 0.5 u))`, each a page view;
//! - pricing views `Poisson(exp(-0.6 + 0.7 u))`, each with scroll depth
//!   `clamp(55 + 20 u + N(0, 20))` and engaged seconds `exp(2.5 + 0.5 u + N(0, 0.7))`;
//! - distinct products `1 + Poisson(exp(-1 + 0.5 u))`;
//! - checkout: cart with `p = σ(u - 0.6 + N(0, 1))`, then address and payment
//!   each with `p = σ(u + N(0, 1))` given the previous step;
//! - a WhatsApp question with `p = σ(u - 1 + N(0, 1))` (COD, delivery, price
//!   or size);
//! - the order: `p = σ(-2.8 + 1.2 u + 0.5·depth + N(0, 0.8))` — partly the
//!   hidden intent (never fully visible), partly the observed checkout depth.
//!
//! Held-out test set: 6,000 people from another seed. Models are trained on
//! the first people of a training stream until it holds 50, 200 or 1,000
//! converters. Baselines on the same test set: the default weights, and the
//! rule-based score (how many of the default intent rules the journey fires
//! before its order, checkout abandonment counted when it reached the address
//! or payment step).

use touchline_shared::predict::{
    calibration_error, default_model, extract, reliability, roc_auc, score, train, Bin, Model, Row,
    Training, L2_LAMBDA, MAX_ITERATIONS,
};
use touchline_shared::rules::{default_rules, evaluate, Fact};
use touchline_shared::schema::*;
use touchline_shared::signal::observe;
use touchline_shared::timeline::{Stored, Via};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const T0: i64 = 1_764_000_000_000;
const TEST_PEOPLE: usize = 6_000;

/// SplitMix64: small, seeded, good enough for generating test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
    /// True with probability σ(z + sd·N(0, 1)).
    fn noisy(&mut self, z: f64, sd: f64) -> bool {
        let e = self.normal();
        self.chance(sigma(z + sd * e))
    }
    fn poisson(&mut self, lambda: f64) -> usize {
        let (l, mut k, mut p) = ((-lambda).exp(), 0, 1.0);
        loop {
            p *= self.uniform();
            if p <= l || k >= 50 {
                return k;
            }
            k += 1;
        }
    }
}

fn sigma(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

struct Builder {
    person: usize,
    n: u32,
    t: i64,
    session: usize,
    events: Vec<Stored>,
}

impl Builder {
    fn push(&mut self, url: &str, via: Via, data: EventData) {
        self.n += 1;
        self.t += MIN;
        self.events.push(Stored {
            time: self.t,
            via,
            event: Event {
                schema: 1,
                site_id: "bench".into(),
                visitor_id: format!("v{}", self.person),
                session_id: format!("s{}_{}", self.person, self.session),
                event_id: format!("e{}_{}", self.person, self.n),
                ts: self.t,
                seq: self.n,
                url: format!("https://shop.example{url}"),
                referrer: None,
                data,
            },
        });
    }
    fn chat(&mut self, message_id: &str, text: &str, referral: Option<CtwaReferral>) {
        let wa = format!("1555{}", self.person);
        self.push(
            "/",
            Via::Webhook,
            EventData::WhatsappInbound(WhatsappInbound {
                message_id: message_id.into(),
                wa,
                wa_id: None,
                user_id: None,
                profile_name: None,
                message_type: "text".into(),
                original_type: None,
                text: Some(text.into()),
                referral,
                phone_number_id: None,
            }),
        );
    }
    fn page(&mut self, url: &str, attribution: touchline_shared::Attribution) {
        self.push(
            url,
            Via::Collect,
            EventData::PageView(PageView {
                title: None,
                attribution,
            }),
        );
    }
}

/// One generated person: the timeline, whether they bought, and the log-odds
/// of buying the process used (before its noise): the ceiling any model can reach.
fn person(rng: &mut Rng, i: usize) -> (Vec<Stored>, bool, f64) {
    let u = rng.normal();
    let mut b = Builder {
        person: i,
        n: 0,
        t: T0 + (i as i64) * MIN,
        session: 0,
        events: Vec::new(),
    };
    let mut landing = touchline_shared::Attribution::default();
    match (rng.uniform() * 5.0) as usize {
        0 => {
            landing.utm_source = Some("meta".into());
            landing.utm_medium = Some("paid_social".into());
            landing.utm_campaign = Some("sale".into());
        }
        1 => landing.gclid = Some("g".into()),
        2 => landing.igshid = Some("ig".into()),
        3 => {
            let ad = CtwaReferral {
                source_id: "ad1".into(),
                source_type: Some("ad".into()),
                source_url: None,
                headline: None,
                body: None,
                media_type: None,
                ctwa_clid: Some("c".into()),
            };
            b.chat(&format!("wamid.{i}"), "Hi", Some(ad));
        }
        _ => {}
    }
    let sessions = 1 + rng.poisson((-0.7 + 0.5 * u).exp());
    let pricing = rng.poisson((-0.6 + 0.7 * u).exp());
    let products = 1 + rng.poisson((-1.0 + 0.5 * u).exp());
    for s in 0..sessions {
        b.session = s;
        b.t += 20 * HOUR;
        b.page(
            "/",
            if s == 0 {
                landing.clone()
            } else {
                Default::default()
            },
        );
        if s == 0 {
            for k in 0..products {
                let url = format!("/products/p{k}");
                b.page(&url, Default::default());
                b.push(
                    &url,
                    Via::Collect,
                    EventData::ProductView(ProductView {
                        sku: format!("SKU{k}"),
                        name: None,
                        price: None,
                        currency: None,
                        distinct_in_session: None,
                    }),
                );
            }
        }
        // Pricing views spread over the sessions.
        let here = pricing / sessions + usize::from(s < pricing % sessions);
        for _ in 0..here {
            b.page("/pricing", Default::default());
            b.push(
                "/pricing",
                Via::Collect,
                EventData::PricingView(PricingView { count_7d: 1 }),
            );
            let depth = (55.0 + 20.0 * u + 20.0 * rng.normal()).clamp(0.0, 100.0);
            b.push(
                "/pricing",
                Via::Collect,
                EventData::Scroll(Scroll {
                    depth_pct: depth as u8,
                    milestone: None,
                    container: None,
                }),
            );
            let secs = (2.5 + 0.5 * u + 0.7 * rng.normal()).exp().min(3600.0);
            b.push(
                "/pricing",
                Via::Collect,
                EventData::Engagement(Engagement {
                    engaged_ms: (secs * 1000.0) as u32,
                    total_ms: (secs * 1000.0) as u32,
                }),
            );
        }
    }
    if rng.noisy(u - 1.0, 1.0) {
        let q = [
            "Is COD available?",
            "Delivery time to Pune?",
            "Price for 2?",
            "Do you have XL size?",
        ][(rng.uniform() * 4.0) as usize % 4];
        b.chat(&format!("wamid.q{i}"), q, None);
    }
    let mut depth = 0;
    for (k, step) in ["cart", "address", "payment"].iter().enumerate() {
        let p = if k == 0 {
            sigma(u - 0.6 + rng.normal())
        } else {
            sigma(u + rng.normal())
        };
        if !rng.chance(p) {
            break;
        }
        depth = k + 1;
        b.push(
            &format!("/checkout/{step}"),
            Via::Collect,
            EventData::CheckoutStep(CheckoutStep {
                step: (*step).into(),
            }),
        );
    }
    let z = -2.8 + 1.2 * u + 0.5 * depth as f64;
    let bought = rng.noisy(z, 0.8);
    if bought {
        b.push(
            "/checkout/confirmation",
            Via::Collect,
            EventData::Order(Order {
                order_id: format!("O{i}"),
                value: 100.0,
                currency: "INR".into(),
                payment_method: None,
            }),
        );
    }
    (b.events, bought, z)
}

/// How many default rules a journey fires before its order.
fn rule_score(timeline: &[Stored]) -> f64 {
    let rules = default_rules();
    let observed = observe(timeline);
    let cut = observed
        .iter()
        .position(|o| o.fact == Fact::Order)
        .unwrap_or(observed.len());
    let mut fired: Vec<String> = Vec::new();
    for i in 0..cut {
        let d = evaluate(&rules, &observed[..i], &observed[i], &[], observed[i].time);
        for f in d.fire {
            if !fired.contains(&f.rule) {
                fired.push(f.rule);
            }
        }
        if !d.set_alarms.is_empty() && !fired.iter().any(|r| r == "checkout_abandoned") {
            fired.push("checkout_abandoned".into());
        }
    }
    fired.len() as f64
}

struct Person {
    features: Vec<f64>,
    converted: bool,
    rules: f64,
    truth: f64,
}

fn people(seed: u64, until: impl Fn(usize, usize) -> bool) -> Vec<Person> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut converters = 0;
    while !until(out.len(), converters) {
        let (timeline, bought, truth) = person(&mut rng, out.len());
        let Some(f) = extract(&timeline) else {
            continue;
        };
        assert_eq!(f.converted, bought);
        converters += usize::from(bought);
        out.push(Person {
            features: f.features,
            converted: bought,
            rules: rule_score(&timeline),
            truth,
        });
    }
    out
}

fn eval(model: &Model, test: &[Person]) -> (f64, Vec<Bin>) {
    let scores: Vec<f64> = test
        .iter()
        .map(|p| score(model, &p.features).score)
        .collect();
    let labels: Vec<bool> = test.iter().map(|p| p.converted).collect();
    (
        roc_auc(&scores, &labels).unwrap_or(f64::NAN),
        reliability(&scores, &labels, 10),
    )
}

fn bins_table(name: &str, bins: &[Bin]) -> String {
    let mut s = format!("\n{name}, held-out reliability (10 bins; empty bins left out):\n\n| score bin | people | mean score | observed rate |\n|---|---:|---:|---:|\n");
    for b in bins.iter().filter(|b| b.count > 0) {
        s.push_str(&format!(
            "| {:.1}-{:.1} | {} | {:.3} | {:.3} |\n",
            b.lo,
            b.hi,
            b.count,
            b.mean_score.unwrap_or(0.0),
            b.observed.unwrap_or(0.0)
        ));
    }
    s.push_str(&format!(
        "\nExpected calibration error: {:.3}.\n",
        calibration_error(bins)
    ));
    s
}

fn main() {
    let test = people(0xdecaf, |n, _| n >= TEST_PEOPLE);
    let labels: Vec<bool> = test.iter().map(|p| p.converted).collect();
    let test_rate = labels.iter().filter(|l| **l).count() as f64 / labels.len() as f64;
    let rules_auc =
        roc_auc(&test.iter().map(|p| p.rules).collect::<Vec<_>>(), &labels).unwrap_or(f64::NAN);
    let ceiling =
        roc_auc(&test.iter().map(|p| p.truth).collect::<Vec<_>>(), &labels).unwrap_or(f64::NAN);
    let (default_auc, default_bins) = eval(&default_model(), &test);
    let mut rows = String::from(
        "| training data | people | converters | held-out ROC AUC | ECE |\n|---|---:|---:|---:|---:|\n",
    );
    rows.push_str(&format!(
        "| ceiling: the process's own log-odds (hidden intent and depth) | - | - | {ceiling:.3} | - |\n"
    ));
    rows.push_str(&format!(
        "| none: rule-based score (default rules fired) | - | - | {rules_auc:.3} | - |\n"
    ));
    rows.push_str(&format!(
        "| none: default weights (cold start) | - | - | {default_auc:.3} | {:.3} |\n",
        calibration_error(&default_bins)
    ));
    let mut last_bins = Vec::new();
    for target in [50usize, 200, 1000] {
        let train_people = people(0x5eed + target as u64, |_, c| c >= target);
        let train_rows: Vec<Row> = train_people
            .iter()
            .map(|p| Row {
                features: p.features.clone(),
                converted: p.converted,
            })
            .collect();
        let started = std::time::Instant::now();
        let Training::Trained(model) = train(&train_rows, L2_LAMBDA, MAX_ITERATIONS, 0) else {
            println!("training with {target} converters: not enough data");
            continue;
        };
        let took = started.elapsed();
        let (auc, bins) = eval(&model, &test);
        rows.push_str(&format!(
            "| trained ({} Newton steps, {:.0} ms) | {} | {} | {auc:.3} | {:.3} |\n",
            model.iterations,
            took.as_secs_f64() * 1000.0,
            train_people.len(),
            target,
            calibration_error(&bins)
        ));
        last_bins = bins;
    }
    println!(
        "Held-out test set: {TEST_PEOPLE} generated people, {:.1}% converted.\n\n{rows}{}{}",
        test_rate * 100.0,
        bins_table("Trained on 1,000 converters", &last_bins),
        bins_table("Default weights", &default_bins)
    );
}
