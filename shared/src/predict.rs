//! Predicted purchase intent: features of a profile's timeline, a small
//! L2-regularised logistic regression trained per site on its own converted
//! and not-converted journeys, scores in [0, 1] with the features that pushed
//! them up as human reasons, and the metrics that judge it (ROC AUC,
//! reliability bins).
//!
//! Features describe the journey *before* its first order (a converted
//! profile's row is frozen as it stood just before buying), measured at the
//! last event then, so training rows and open journeys are read the same way.
//! No clock is read: everything is relative to the timeline's own times.
//!
//! Cold start: until a site has [`MIN_CONVERTERS`] converted and
//! [`MIN_NON_CONVERTERS`] not-converted journeys, [`default_model`] (hand-set
//! weights) scores its profiles. Everything is total: empty timelines, one
//! event, extreme or non-finite values give finite numbers.

use serde::{Deserialize, Serialize};

use crate::friction::{topics, Topic};
use crate::schema::EventData;
use crate::timeline::Stored;
use crate::touches::touch_of;

const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Version of the feature set; a stored model of another version is ignored.
pub const FEATURES_VERSION: u32 = 1;
/// Fewest converted journeys before a site's own model replaces the defaults.
pub const MIN_CONVERTERS: usize = 30;
/// Fewest not-converted (settled) journeys before a site's own model is trained.
pub const MIN_NON_CONVERTERS: usize = 30;
/// Most rows one training run reads (the newest first).
pub const MAX_TRAIN_ROWS: usize = 20_000;
/// Most Newton steps of one training run.
pub const MAX_ITERATIONS: usize = 25;
/// Training stops when no weight moves more than this.
pub const TOLERANCE: f64 = 1e-7;
/// L2 penalty on the standardised weights (not on the intercept).
pub const L2_LAMBDA: f64 = 1.0;
/// Most events of a timeline read for features (the newest).
pub const MAX_FEATURE_EVENTS: usize = 2_000;
/// Most reasons given with a score.
pub const MAX_REASONS: usize = 3;
/// A feature must add at least this much log-odds to be named as a reason.
pub const MIN_REASON_LOGIT: f64 = 0.05;
/// Default score threshold of the `predicted_intent` rule.
pub const DEFAULT_THRESHOLD: f64 = 0.7;

/// How a raw feature value enters the model.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// As it is.
    Linear,
    /// `ln(1 + x)`: counts and durations, where the first few matter most.
    Log,
    /// 0 or 1.
    Flag,
}

/// One feature: its name, how it is scaled, the largest raw value believed,
/// and its default weight (log-odds per scaled unit).
struct Spec {
    name: &'static str,
    scale: Scale,
    cap: f64,
    default_weight: f64,
}

const fn spec(name: &'static str, scale: Scale, cap: f64, default_weight: f64) -> Spec {
    Spec {
        name,
        scale,
        cap,
        default_weight,
    }
}

/// The features, in the order of every feature vector.
const SPECS: [Spec; 24] = [
    spec("pricing_views", Scale::Log, 10_000.0, 0.8),
    spec("pricing_recent", Scale::Flag, 1.0, 0.3),
    spec("pricing_scroll_pct", Scale::Linear, 100.0, 0.005),
    spec("pricing_engaged_s", Scale::Log, 86_400.0, 0.12),
    spec("product_scroll_pct", Scale::Linear, 100.0, 0.004),
    spec("product_engaged_s", Scale::Log, 86_400.0, 0.08),
    spec("products_viewed", Scale::Log, 10_000.0, 0.5),
    spec("checkout_depth", Scale::Linear, 3.0, 0.9),
    spec("whatsapp_questions", Scale::Log, 10_000.0, 0.4),
    spec("asked_cod", Scale::Flag, 1.0, 0.5),
    spec("asked_delivery", Scale::Flag, 1.0, 0.3),
    spec("asked_price", Scale::Flag, 1.0, 0.2),
    spec("asked_size", Scale::Flag, 1.0, 0.3),
    spec("ctwa_ad", Scale::Flag, 1.0, 0.3),
    spec("first_touch_ads", Scale::Flag, 1.0, 0.1),
    spec("first_touch_search", Scale::Flag, 1.0, 0.1),
    spec("first_touch_instagram", Scale::Flag, 1.0, 0.0),
    spec("first_touch_whatsapp", Scale::Flag, 1.0, 0.2),
    spec("last_touch_ads", Scale::Flag, 1.0, 0.1),
    spec("last_touch_search", Scale::Flag, 1.0, 0.2),
    spec("last_touch_instagram", Scale::Flag, 1.0, 0.0),
    spec("last_touch_whatsapp", Scale::Flag, 1.0, 0.2),
    spec("visits_7d", Scale::Log, 10_000.0, 0.4),
    spec("days_since_first_touch", Scale::Log, 3_650.0, 0.0),
];

/// Number of features.
pub const N_FEATURES: usize = SPECS.len();
/// Intercept of the default weights: about 3% for a journey with nothing in it.
const DEFAULT_BIAS: f64 = -3.5;

/// The feature names, in vector order.
pub fn feature_names() -> Vec<&'static str> {
    SPECS.iter().map(|s| s.name).collect()
}

/// What a profile's timeline tells the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// Raw feature values, in [`feature_names`] order.
    pub features: Vec<f64>,
    /// An order was placed (features describe the journey before it).
    pub converted: bool,
    /// Time of the first event, ms.
    pub first_time: i64,
    /// Time the features are measured at: the last event before the first
    /// order (or the order itself when nothing came before), ms.
    pub as_of: i64,
    /// Events before the first order; 0 means there is nothing to learn from.
    pub events: usize,
    /// The site of the newest event.
    pub site_id: String,
}

fn channel_flags(channel: &str) -> [f64; 4] {
    let f = |c: &str| if channel == c { 1.0 } else { 0.0 };
    [f("ads"), f("search"), f("instagram"), f("whatsapp")]
}

/// Computes the features of a timeline (any order); `None` when it is empty.
pub fn extract(timeline: &[Stored]) -> Option<Extracted> {
    let mut sorted: Vec<&Stored> = timeline.iter().collect();
    sorted.sort_by_key(|s| (s.time, s.event.seq));
    let first = sorted.first()?;
    let site_id = sorted.last().map(|s| s.event.site_id.clone())?;
    let order_at = sorted
        .iter()
        .position(|s| matches!(s.event.data, EventData::Order(_)));
    let before: Vec<&Stored> = sorted[..order_at.unwrap_or(sorted.len())].to_vec();
    let as_of = before.last().map_or_else(
        || order_at.map_or(first.time, |i| sorted[i].time),
        |s| s.time,
    );
    let mut x = vec![0.0; N_FEATURES];
    let page_of = |s: &Stored| (s.event.session_id.clone(), s.event.url.clone());
    let pricing_pages: Vec<(String, String)> = before
        .iter()
        .filter(|s| matches!(s.event.data, EventData::PricingView(_)))
        .map(|s| page_of(s))
        .collect();
    let product_pages: Vec<(String, String)> = before
        .iter()
        .filter(|s| matches!(s.event.data, EventData::ProductView(_)))
        .map(|s| page_of(s))
        .collect();
    let mut skus: Vec<&str> = Vec::new();
    let mut sessions_7d: Vec<&str> = Vec::new();
    let mut asked: Vec<Topic> = Vec::new();
    let mut last_pricing: Option<i64> = None;
    let (mut first_channel, mut last_channel) = (None, None);
    for s in &before {
        let page = page_of(s);
        let (on_pricing, on_product) =
            (pricing_pages.contains(&page), product_pages.contains(&page));
        match &s.event.data {
            EventData::PricingView(_) => {
                x[0] += 1.0;
                last_pricing = Some(s.time);
            }
            EventData::Scroll(sc) if sc.container.is_none() => {
                let d = f64::from(sc.depth_pct);
                if on_pricing {
                    x[2] = f64::max(x[2], d);
                }
                if on_product {
                    x[4] = f64::max(x[4], d);
                }
            }
            EventData::Engagement(g) => {
                let secs = f64::from(g.total_ms) / 1000.0;
                if on_pricing {
                    x[3] = f64::max(x[3], secs);
                }
                if on_product {
                    x[5] = f64::max(x[5], secs);
                }
            }
            EventData::ProductView(p) if !skus.contains(&p.sku.as_str()) => skus.push(&p.sku),
            EventData::CheckoutStep(c) => {
                let depth = match c.step.as_str() {
                    "address" | "shipping" => 2.0,
                    "payment" | "confirmation" => 3.0,
                    _ => 1.0,
                };
                x[7] = f64::max(x[7], depth);
            }
            EventData::WhatsappInbound(w) => {
                if w.referral.is_some() {
                    x[13] = 1.0;
                }
                if let Some(text) = &w.text {
                    x[8] += 1.0;
                    for t in topics(text) {
                        if !asked.contains(&t) {
                            asked.push(t);
                        }
                    }
                }
            }
            EventData::PageView(p) => {
                if p.attribution.ctwa_clid.is_some() {
                    x[13] = 1.0;
                }
                if as_of.saturating_sub(s.time) <= 7 * DAY_MS
                    && !sessions_7d.contains(&s.event.session_id.as_str())
                {
                    sessions_7d.push(&s.event.session_id);
                }
            }
            _ => {}
        }
        if let Some(src) = touch_of(s).touch.source {
            first_channel.get_or_insert_with(|| src.channel.clone());
            last_channel = Some(src.channel);
        }
    }
    x[1] = match last_pricing {
        Some(t) if as_of.saturating_sub(t) <= DAY_MS => 1.0,
        _ => 0.0,
    };
    x[6] = skus.len() as f64;
    for (i, t) in [Topic::Cod, Topic::Delivery, Topic::Price, Topic::Size]
        .iter()
        .enumerate()
    {
        x[9 + i] = if asked.contains(t) { 1.0 } else { 0.0 };
    }
    x[14..18].copy_from_slice(&channel_flags(first_channel.as_deref().unwrap_or("")));
    x[18..22].copy_from_slice(&channel_flags(last_channel.as_deref().unwrap_or("")));
    x[22] = sessions_7d.len() as f64;
    x[23] = as_of.saturating_sub(first.time).max(0) as f64 / DAY_MS as f64;
    Some(Extracted {
        features: x,
        converted: order_at.is_some(),
        first_time: first.time,
        as_of,
        events: before.len(),
        site_id,
    })
}

/// Widens `e` to a first touch older than the timeline it was read from (a
/// shell that reads only recent events passes the profile's first event time).
pub fn with_first_touch(mut e: Extracted, first_time: i64) -> Extracted {
    e.first_time = e.first_time.min(first_time);
    e.features[N_FEATURES - 1] = e.as_of.saturating_sub(e.first_time).max(0) as f64 / DAY_MS as f64;
    e
}

/// A raw value made safe and scaled: non-finite -> 0, clipped to `[0, cap]`.
fn scaled(spec: &Spec, raw: f64) -> f64 {
    let v = if raw.is_finite() {
        raw.clamp(0.0, spec.cap)
    } else {
        0.0
    };
    match spec.scale {
        Scale::Linear => v,
        Scale::Log => v.ln_1p(),
        Scale::Flag => {
            if v > 0.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Which weights a model holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Hand-set weights, used until the site has enough journeys.
    Default,
    /// Learned from the site's own journeys.
    Trained,
}

/// A logistic model over standardised, scaled features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// [`FEATURES_VERSION`] it was built for.
    pub version: u32,
    /// Default or trained.
    pub kind: ModelKind,
    /// Intercept (log-odds).
    pub bias: f64,
    /// One weight per feature, per standard deviation of the scaled feature.
    pub weights: Vec<f64>,
    /// Mean of each scaled feature in the training rows (0 for defaults).
    pub means: Vec<f64>,
    /// Standard deviation of each scaled feature (1 for defaults; 1 when constant).
    pub scales: Vec<f64>,
    /// Converted journeys it was trained on.
    pub converters: usize,
    /// Not-converted journeys it was trained on.
    pub non_converters: usize,
    /// Newton steps taken.
    pub iterations: usize,
    /// When it was trained, ms (0 for defaults).
    pub trained_at: i64,
}

/// The hand-set cold-start model.
pub fn default_model() -> Model {
    Model {
        version: FEATURES_VERSION,
        kind: ModelKind::Default,
        bias: DEFAULT_BIAS,
        weights: SPECS.iter().map(|s| s.default_weight).collect(),
        means: vec![0.0; N_FEATURES],
        scales: vec![1.0; N_FEATURES],
        converters: 0,
        non_converters: 0,
        iterations: 0,
        trained_at: 0,
    }
}

impl Model {
    /// Whether it fits this feature set and holds only finite numbers.
    pub fn is_usable(&self) -> bool {
        let all = [&self.weights, &self.means, &self.scales];
        self.version == FEATURES_VERSION
            && all.iter().all(|v| v.len() == N_FEATURES)
            && self.bias.is_finite()
            && all.iter().all(|v| v.iter().all(|x| x.is_finite()))
            && self.scales.iter().all(|s| *s > 0.0)
    }
}

/// One feature's share of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Feature name.
    pub feature: String,
    /// What people read, e.g. "viewed pricing 3 times".
    pub text: String,
    /// Log-odds it added.
    pub contribution: f64,
}

/// A score with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Probability of buying, in [0, 1].
    pub score: f64,
    /// The features that pushed it up most, strongest first.
    pub reasons: Vec<Reason>,
}

fn plural(n: f64, one: &str, many: &str) -> String {
    let n = n.round() as i64;
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The human text of a feature's raw value; `None` when there is nothing to say.
fn reason_text(i: usize, raw: f64) -> Option<String> {
    let n = raw.round();
    if !(n.is_finite() && n >= 1.0) {
        return None;
    }
    let channel = |c: usize| ["ads", "search", "Instagram", "WhatsApp"][c];
    Some(match SPECS[i].name {
        "pricing_views" => format!("viewed pricing {}", plural(n, "time", "times")),
        "pricing_recent" => "viewed pricing in the last day".into(),
        "pricing_scroll_pct" => format!("read {n}% of the pricing page"),
        "pricing_engaged_s" => format!("spent {n} s on pricing"),
        "product_scroll_pct" => format!("scrolled {n}% of a product page"),
        "product_engaged_s" => format!("spent {n} s on product pages"),
        "products_viewed" if n >= 2.0 => format!("compared {n} products"),
        "products_viewed" => "viewed a product".into(),
        "checkout_depth" => match n as i64 {
            1 => "reached the cart".into(),
            2 => "reached the address step".into(),
            _ => "reached the payment step".into(),
        },
        "whatsapp_questions" => format!("sent {} on WhatsApp", plural(n, "message", "messages")),
        "asked_cod" => "asked about COD".into(),
        "asked_delivery" => "asked about delivery".into(),
        "asked_price" => "asked about the price".into(),
        "asked_size" => "asked about sizes".into(),
        "ctwa_ad" => "came from a click-to-WhatsApp ad".into(),
        "visits_7d" => format!("{} in the last 7 days", plural(n, "visit", "visits")),
        "days_since_first_touch" => format!("first seen {} before", plural(n, "day", "days")),
        name => match (
            name.strip_prefix("first_touch_"),
            name.strip_prefix("last_touch_"),
        ) {
            (Some(_), _) => format!("first came through {}", channel(i - 14)),
            (_, Some(_)) => format!("last came through {}", channel(i - 18)),
            _ => return None,
        },
    })
}

fn sigmoid(z: f64) -> f64 {
    let z = if z.is_finite() {
        z.clamp(-35.0, 35.0)
    } else {
        0.0
    };
    1.0 / (1.0 + (-z).exp())
}

/// Each feature's standardised value under `model`.
fn standardised(model: &Model, raw: &[f64]) -> Vec<f64> {
    SPECS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let v = scaled(s, raw.get(i).copied().unwrap_or(0.0));
            let z = (v - model.means[i]) / model.scales[i];
            if z.is_finite() {
                z
            } else {
                0.0
            }
        })
        .collect()
}

/// Scores raw features with `model` (an unusable model scores with the defaults).
pub fn score(model: &Model, raw: &[f64]) -> Scored {
    let fallback;
    let model = if model.is_usable() {
        model
    } else {
        fallback = default_model();
        &fallback
    };
    let z = standardised(model, raw);
    let parts: Vec<f64> = z.iter().zip(&model.weights).map(|(z, w)| z * w).collect();
    let logit = model.bias + parts.iter().sum::<f64>();
    let mut reasons: Vec<Reason> = parts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c >= MIN_REASON_LOGIT)
        .filter_map(|(i, c)| {
            reason_text(i, raw.get(i).copied().unwrap_or(0.0)).map(|text| Reason {
                feature: SPECS[i].name.into(),
                text,
                contribution: *c,
            })
        })
        .collect();
    reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    reasons.truncate(MAX_REASONS);
    Scored {
        score: sigmoid(logit),
        reasons,
    }
}

/// One training row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Raw features.
    pub features: Vec<f64>,
    /// Bought.
    pub converted: bool,
}

/// What a training run gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Training {
    /// A model learned from the rows.
    Trained(Model),
    /// Too few journeys of a class: the defaults stay.
    NotEnoughData {
        /// Converted rows seen.
        converters: usize,
        /// Not-converted rows seen.
        non_converters: usize,
    },
}

/// Solves `a x = b` for a symmetric positive definite `a` (Cholesky);
/// `None` when `a` is not positive definite.
fn solve_spd(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Trains on at most [`MAX_TRAIN_ROWS`] rows (rows with the wrong number of
/// features are skipped): standardise, then Newton's method (IRLS) on the
/// L2-penalised log-likelihood, at most `max_iterations` steps. Deterministic.
pub fn train(rows: &[Row], lambda: f64, max_iterations: usize, now: i64) -> Training {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.features.len() == N_FEATURES)
        .take(MAX_TRAIN_ROWS)
        .collect();
    let converters = rows.iter().filter(|r| r.converted).count();
    let non_converters = rows.len() - converters;
    if converters < MIN_CONVERTERS || non_converters < MIN_NON_CONVERTERS {
        return Training::NotEnoughData {
            converters,
            non_converters,
        };
    }
    let scaled_rows: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            SPECS
                .iter()
                .zip(&r.features)
                .map(|(s, v)| scaled(s, *v))
                .collect()
        })
        .collect();
    let n = rows.len() as f64;
    let means: Vec<f64> = (0..N_FEATURES)
        .map(|j| scaled_rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let scales: Vec<f64> = (0..N_FEATURES)
        .map(|j| {
            let var = scaled_rows
                .iter()
                .map(|r| (r[j] - means[j]).powi(2))
                .sum::<f64>()
                / n;
            let sd = var.sqrt();
            if sd > 1e-9 && sd.is_finite() {
                sd
            } else {
                1.0
            }
        })
        .collect();
    // Design matrix with the intercept last.
    let x: Vec<Vec<f64>> = scaled_rows
        .iter()
        .map(|r| {
            let mut v: Vec<f64> = (0..N_FEATURES)
                .map(|j| (r[j] - means[j]) / scales[j])
                .collect();
            v.push(1.0);
            v
        })
        .collect();
    let y: Vec<f64> = rows
        .iter()
        .map(|r| if r.converted { 1.0 } else { 0.0 })
        .collect();
    let d = N_FEATURES + 1;
    let mut beta = vec![0.0; d];
    let rate = converters as f64 / n;
    beta[N_FEATURES] = (rate / (1.0 - rate)).ln();
    let lambda = if lambda.is_finite() && lambda > 0.0 {
        lambda
    } else {
        L2_LAMBDA
    };
    let mut iterations = 0;
    for _ in 0..max_iterations.min(MAX_ITERATIONS) {
        iterations += 1;
        let mut grad = vec![0.0; d];
        let mut hess = vec![vec![0.0; d]; d];
        for (xi, yi) in x.iter().zip(&y) {
            let p = sigmoid(xi.iter().zip(&beta).map(|(a, b)| a * b).sum());
            let w = (p * (1.0 - p)).max(1e-12);
            for j in 0..d {
                grad[j] += (p - yi) * xi[j];
                for k in 0..=j {
                    hess[j][k] += w * xi[j] * xi[k];
                }
            }
        }
        let lower = hess.clone();
        for (k, row) in hess.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate().skip(k + 1) {
                *v = lower[j][k];
            }
        }
        for j in 0..d {
            let penalty = if j < N_FEATURES { lambda } else { 1e-9 };
            grad[j] += penalty * beta[j];
            hess[j][j] += penalty;
        }
        let Some(step) = solve_spd(&hess, &grad) else {
            break;
        };
        let moved = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        for j in 0..d {
            beta[j] -= step[j];
        }
        if moved < TOLERANCE {
            break;
        }
    }
    let model = Model {
        version: FEATURES_VERSION,
        kind: ModelKind::Trained,
        bias: beta[N_FEATURES],
        weights: beta[..N_FEATURES].to_vec(),
        means,
        scales,
        converters,
        non_converters,
        iterations,
        trained_at: now,
    };
    if model.is_usable() {
        Training::Trained(model)
    } else {
        Training::NotEnoughData {
            converters,
            non_converters,
        }
    }
}

/// ROC AUC of `scores` against `labels` (ties count half); `None` when a
/// class is missing or a score is not finite.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() || scores.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    // Average ranks over ties, then the Mann-Whitney U statistic.
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            ranks[*k] = r;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// One reliability bin: predictions in `[lo, hi)` and how often they came true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge.
    pub lo: f64,
    /// Upper edge.
    pub hi: f64,
    /// Predictions in the bin.
    pub count: usize,
    /// Their mean score; `None` when empty.
    pub mean_score: Option<f64>,
    /// The share that converted; `None` when empty.
    pub observed: Option<f64>,
}

/// Reliability bins of equal width over [0, 1] (`bins` clamped to 1..=100).
pub fn reliability(scores: &[f64], labels: &[bool], bins: usize) -> Vec<Bin> {
    let bins = bins.clamp(1, 100);
    let mut sums = vec![(0usize, 0.0, 0usize); bins];
    for (s, l) in scores.iter().zip(labels) {
        if !s.is_finite() {
            continue;
        }
        let s = s.clamp(0.0, 1.0);
        let b = ((s * bins as f64) as usize).min(bins - 1);
        sums[b].0 += 1;
        sums[b].1 += s;
        sums[b].2 += usize::from(*l);
    }
    sums.iter()
        .enumerate()
        .map(|(i, (n, total, pos))| Bin {
            lo: i as f64 / bins as f64,
            hi: (i + 1) as f64 / bins as f64,
            count: *n,
            mean_score: (*n > 0).then(|| total / *n as f64),
            observed: (*n > 0).then(|| *pos as f64 / *n as f64),
        })
        .collect()
}

/// Expected calibration error: the count-weighted mean |score - observed|; 0 when empty.
pub fn calibration_error(bins: &[Bin]) -> f64 {
    let n: usize = bins.iter().map(|b| b.count).sum();
    if n == 0 {
        return 0.0;
    }
    bins.iter()
        .filter_map(|b| Some(b.count as f64 * (b.mean_score? - b.observed?).abs()))
        .sum::<f64>()
        / n as f64
}

/// Reads `min_score` (a number in [0, 1]).
pub fn parse_min_score(v: &str) -> Result<f64, (&'static str, String)> {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err((
            "bad_min_score",
            format!("min_score must be a number from 0 to 1, not `{v}`"),
        )),
    }
}

/// Most profiles one predictions answer lists.
pub const MAX_PREDICTIONS_LIMIT: usize = 500;
/// Default of `limit`.
pub const DEFAULT_PREDICTIONS_LIMIT: usize = 50;

/// Reads `limit` (1..=[`MAX_PREDICTIONS_LIMIT`]).
pub fn parse_limit(v: &str) -> Result<usize, (&'static str, String)> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_PREDICTIONS_LIMIT).contains(&n) => Ok(n),
        _ => Err((
            "bad_limit",
            format!("limit must be a whole number from 1 to {MAX_PREDICTIONS_LIMIT}, not `{v}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::friction::tests::{chat, ev, order, step, visit};
    use crate::schema::*;

    const MIN: i64 = 60_000;

    fn pricing(id: &str, time: i64, session: &str) -> Stored {
        ev(
            id,
            time,
            session,
            "https://shop.example/pricing",
            EventData::PricingView(PricingView { count_7d: 1 }),
        )
    }

    fn product(id: &str, time: i64, sku: &str) -> Stored {
        ev(
            id,
            time,
            "s1",
            &format!("https://shop.example/products/{sku}"),
            EventData::ProductView(ProductView {
                sku: sku.into(),
                name: None,
                price: None,
                currency: None,
                distinct_in_session: None,
            }),
        )
    }

    fn at(name: &str) -> usize {
        feature_names()
            .iter()
            .position(|n| *n == name)
            .expect("feature")
    }

    fn buyer_like() -> Vec<Stored> {
        vec![
            visit("v1", 0, "s1", "https://shop.example/pricing"),
            pricing("p1", MIN, "s1"),
            ev(
                "sc",
                2 * MIN,
                "s1",
                "https://shop.example/pricing",
                EventData::Scroll(Scroll {
                    depth_pct: 90,
                    milestone: Some(90),
                    container: None,
                }),
            ),
            ev(
                "en",
                3 * MIN,
                "s1",
                "https://shop.example/pricing",
                EventData::Engagement(Engagement {
                    engaged_ms: 40_000,
                    total_ms: 40_000,
                }),
            ),
            visit("v2", DAY_MS, "s2", "https://shop.example/pricing"),
            pricing("p2", DAY_MS + MIN, "s2"),
            product("k", DAY_MS + 2 * MIN, "KURTA"),
            product("s", DAY_MS + 3 * MIN, "SAREE"),
            chat("c", DAY_MS + 4 * MIN, "Is COD available?"),
            step("a", DAY_MS + 5 * MIN, "address"),
        ]
    }

    #[test]
    fn features_read_pricing_products_checkout_questions_and_visits() {
        let f = extract(&buyer_like()).expect("features");
        let x = &f.features;
        assert_eq!(x[at("pricing_views")], 2.0);
        assert_eq!(x[at("pricing_recent")], 1.0);
        assert_eq!(x[at("pricing_scroll_pct")], 90.0);
        assert_eq!(x[at("pricing_engaged_s")], 40.0);
        assert_eq!(x[at("products_viewed")], 2.0);
        assert_eq!(x[at("checkout_depth")], 2.0);
        assert_eq!(x[at("whatsapp_questions")], 1.0);
        assert_eq!(x[at("asked_cod")], 1.0);
        assert_eq!(x[at("asked_delivery")], 0.0);
        assert_eq!(x[at("visits_7d")], 2.0);
        assert_eq!(
            x[at("last_touch_whatsapp")],
            1.0,
            "the chat is an organic WhatsApp touch"
        );
        assert!(
            (x[at("days_since_first_touch")] - (DAY_MS + 5 * MIN) as f64 / DAY_MS as f64).abs()
                < 1e-12
        );
        assert!(!f.converted);
        assert_eq!((f.first_time, f.as_of, f.events), (0, DAY_MS + 5 * MIN, 10));
    }

    #[test]
    fn an_older_first_touch_widens_the_days_since_the_first_touch() {
        let f = extract(&buyer_like()).expect("features");
        let wide = with_first_touch(f.clone(), -2 * DAY_MS);
        assert_eq!(wide.first_time, -2 * DAY_MS);
        let days = wide.features[at("days_since_first_touch")];
        assert!((days - (3 * DAY_MS + 5 * MIN) as f64 / DAY_MS as f64).abs() < 1e-12);
        assert_eq!(
            with_first_touch(f.clone(), 10 * DAY_MS),
            f,
            "a later time changes nothing"
        );
    }

    #[test]
    fn a_converted_profile_is_described_as_it_stood_before_the_order() {
        let mut t = buyer_like();
        t.push(order("o", DAY_MS + 10 * MIN));
        t.push(pricing("late", DAY_MS + 20 * MIN, "s3"));
        t.push(step("conf", DAY_MS + 11 * MIN, "payment"));
        let f = extract(&t).expect("features");
        assert!(f.converted);
        assert_eq!(
            f.features[at("pricing_views")],
            2.0,
            "views after the order do not count"
        );
        assert_eq!(f.features[at("checkout_depth")], 2.0);
        assert_eq!(f.as_of, DAY_MS + 5 * MIN);
        let only_order = extract(&[order("o", 7)]).expect("features");
        assert_eq!(
            (only_order.events, only_order.as_of, only_order.converted),
            (0, 7, true)
        );
    }

    #[test]
    fn a_single_event_and_extreme_values_give_finite_scores() {
        assert_eq!(extract(&[]), None);
        let one = extract(&[visit("a", 5, "s", "https://x/")]).expect("features");
        assert!(one.features.iter().all(|v| v.is_finite()));
        let s = score(&default_model(), &one.features);
        assert!(s.score > 0.0 && s.score < 0.1, "{}", s.score);
        let extreme = vec![f64::MAX; N_FEATURES];
        let nan = vec![f64::NAN; N_FEATURES];
        let neg = vec![f64::NEG_INFINITY; N_FEATURES];
        for raw in [&extreme, &nan, &neg, &vec![]] {
            let s = score(&default_model(), raw);
            assert!(s.score.is_finite() && (0.0..=1.0).contains(&s.score));
        }
        let wild = extract(&[
            visit("a", i64::MIN, "s", "u"),
            visit("b", i64::MAX, "s", "u"),
        ])
        .expect("features");
        assert!(wild.features.iter().all(|v| v.is_finite()));
        let mut broken = default_model();
        broken.weights[0] = f64::NAN;
        assert!(!broken.is_usable());
        assert_eq!(
            score(&broken, &one.features),
            score(&default_model(), &one.features)
        );
    }

    #[test]
    fn default_weights_rank_a_buyer_like_journey_above_a_bouncer_with_reasons() {
        let buyer = extract(&buyer_like()).expect("f");
        let bouncer = extract(&[visit("a", 0, "s", "https://shop.example/")]).expect("f");
        let (b, o) = (
            score(&default_model(), &buyer.features),
            score(&default_model(), &bouncer.features),
        );
        assert!(b.score > 0.5 && o.score < 0.1, "{} vs {}", b.score, o.score);
        let texts: Vec<&str> = b.reasons.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "reached the address step",
                "viewed pricing 2 times",
                "compared 2 products"
            ]
        );
        assert!(o.reasons.len() <= 1);
    }

    /// Rows where only the first feature decides: converted iff pricing views >= 3.
    fn separable(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let views = (i % 6) as f64;
                let mut features = vec![0.0; N_FEATURES];
                features[0] = views;
                features[at("visits_7d")] = ((i / 6) % 2) as f64; // noise, unrelated
                Row {
                    features,
                    converted: views >= 3.0,
                }
            })
            .collect()
    }

    #[test]
    fn training_learns_the_deciding_feature_from_hand_made_rows() {
        let Training::Trained(m) = train(&separable(120), L2_LAMBDA, MAX_ITERATIONS, 99) else {
            panic!("enough rows");
        };
        assert_eq!(
            (m.kind, m.converters, m.non_converters, m.trained_at),
            (ModelKind::Trained, 60, 60, 99)
        );
        assert!(m.weights[0] > 2.0, "pricing views decide: {}", m.weights[0]);
        assert!(
            m.weights[at("visits_7d")].abs() < 0.2,
            "noise gets ~0: {:?}",
            m.weights
        );
        let mut x = vec![0.0; N_FEATURES];
        x[0] = 5.0;
        let high = score(&m, &x);
        x[0] = 0.0;
        let low = score(&m, &x);
        assert!(
            high.score > 0.9 && low.score < 0.1,
            "{} {}",
            high.score,
            low.score
        );
        assert_eq!(high.reasons[0].text, "viewed pricing 5 times");
        let again = train(&separable(120), L2_LAMBDA, MAX_ITERATIONS, 99);
        assert_eq!(again, Training::Trained(m), "deterministic");
    }

    #[test]
    fn training_recovers_a_known_rate_and_stays_calibrated_without_signal() {
        // Feature 0 is 1 for half the rows; 3/4 of those convert and 1/4 of the others.
        let rows: Vec<Row> = (0..400)
            .map(|i| {
                let on = i % 2 == 0;
                let mut f = vec![0.0; N_FEATURES];
                f[0] = if on { 1.0 } else { 0.0 };
                Row {
                    features: f,
                    converted: if on { i % 8 != 0 } else { i % 8 == 1 },
                }
            })
            .collect();
        let Training::Trained(m) = train(&rows, 1e-6, MAX_ITERATIONS, 0) else {
            panic!("trained")
        };
        let mut x = vec![0.0; N_FEATURES];
        x[0] = 1.0;
        assert!((score(&m, &x).score - 0.75).abs() < 1e-3);
        x[0] = 0.0;
        assert!((score(&m, &x).score - 0.25).abs() < 1e-3);
    }

    #[test]
    fn too_few_converters_keeps_the_defaults_and_says_so() {
        let mut rows = separable(120);
        for r in rows.iter_mut().skip(20) {
            r.converted = false;
        }
        let got = train(&rows, L2_LAMBDA, MAX_ITERATIONS, 0);
        let converters = rows.iter().filter(|r| r.converted).count();
        assert_eq!(
            got,
            Training::NotEnoughData {
                converters,
                non_converters: 120 - converters
            }
        );
        assert!(converters < MIN_CONVERTERS);
        assert_eq!(
            train(&[], 1.0, 10, 0),
            Training::NotEnoughData {
                converters: 0,
                non_converters: 0
            }
        );
        let none_converted: Vec<Row> = separable(200)
            .into_iter()
            .map(|r| Row {
                converted: false,
                ..r
            })
            .collect();
        assert!(matches!(
            train(&none_converted, 1.0, 10, 0),
            Training::NotEnoughData { converters: 0, .. }
        ));
    }

    #[test]
    fn extreme_and_constant_training_rows_give_a_finite_model() {
        let rows: Vec<Row> = (0..100)
            .map(|i| Row {
                features: vec![if i % 3 == 0 { f64::MAX } else { f64::NAN }; N_FEATURES],
                converted: i % 2 == 0,
            })
            .collect();
        match train(&rows, L2_LAMBDA, MAX_ITERATIONS, 0) {
            Training::Trained(m) => assert!(m.is_usable()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn auc_and_reliability_bins_match_hand_counts() {
        let s = [0.1, 0.4, 0.35, 0.8];
        let l = [false, false, true, true];
        assert_eq!(roc_auc(&s, &l), Some(0.75));
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(roc_auc(&[0.5], &[true]), None);
        assert_eq!(roc_auc(&[f64::NAN, 0.1], &[true, false]), None);
        let bins = reliability(&s, &l, 2);
        assert_eq!(bins[0].count, 3);
        assert_eq!(bins[1].observed, Some(1.0));
        assert!((bins[0].mean_score.expect("m") - 0.85 / 3.0).abs() < 1e-12);
        let empty = reliability(&[], &[], 10);
        assert!(empty.iter().all(|b| b.count == 0 && b.observed.is_none()));
        assert_eq!(calibration_error(&empty), 0.0);
        assert!(calibration_error(&bins) > 0.0);
    }

    #[test]
    fn query_parameters_are_checked() {
        assert_eq!(parse_min_score("0.5"), Ok(0.5));
        assert!(parse_min_score("NaN").is_err());
        assert!(parse_min_score("1.5").is_err());
        assert!(parse_min_score("-0").is_ok());
        assert_eq!(parse_limit("10"), Ok(10));
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("501").is_err());
        assert!(parse_limit("ten").is_err());
    }

    #[test]
    fn models_round_trip_through_json() {
        let m = default_model();
        let back: Model = serde_json::from_str(&serde_json::to_string(&m).expect("j")).expect("p");
        assert_eq!(back, m);
        assert!(m.is_usable());
        assert_eq!(feature_names().len(), N_FEATURES);
    }
}
