//! Report math: funnels, campaign attribution (first-touch, last-touch,
//! linear, time-decay), weekly cohorts and time to convert. Pure functions
//! over journeys; the edge loads the journeys and serves the results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
/// 1970-01-01 was a Thursday; weeks start on Monday, 4 days later.
const MONDAY_OFFSET_MS: i64 = 4 * DAY_MS;

/// Where a touchpoint came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    /// web, whatsapp, instagram, search, ads, offline, ... (lowercase).
    pub channel: String,
    /// utm_source or the ad network (`meta`, `google`, ...); empty for none.
    pub source: String,
    /// Campaign name or id; empty for none.
    pub campaign: String,
    /// Ad id (e.g. a CTWA ad's source_id); empty for none.
    pub ad: String,
}

/// One thing that happened in a journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    /// Event id.
    pub event_id: String,
    /// Time, ms.
    pub time: i64,
    /// Step name: an event kind (`page_view`, `product_view`, `order`, ...)
    /// or `checkout:<step>` for checkout steps.
    pub step: String,
    /// Set on touches that carry attribution (a campaign landing, an ad chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Order value (on `order` touches), in the report currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The source is organic (a chat not opened by an ad, a visit from a
    /// search engine or Instagram without campaign tags): see [`credited`].
    #[serde(default)]
    pub organic: bool,
}

/// One person's touches, any order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    /// Profile id.
    pub profile_id: String,
    /// Its touches.
    pub touches: Vec<Touch>,
}

impl Journey {
    fn sorted(&self) -> Vec<&Touch> {
        let mut t: Vec<&Touch> = self.touches.iter().collect();
        t.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
        t
    }
}

/// An organic touch within this long after any other sourced touch is the
/// same conversation or shopping trip, not a new source (24 h, WhatsApp's
/// customer-service window).
pub const CONVERSATION_MS: i64 = DAY_MS;

/// Which of `sorted` (a journey in time order) may earn credit: every touch
/// with a paid or tagged source, and organic ones only after 24 h without any
/// sourced touch — so the later messages of a chat opened by an ad, or a visit
/// from the link an agent sent in that chat, do not take the ad's credit.
pub fn credited(sorted: &[&Touch]) -> Vec<bool> {
    let mut last_sourced: Option<i64> = None;
    sorted
        .iter()
        .map(|t| {
            if t.source.is_none() {
                return false;
            }
            let ok = !t.organic || last_sourced.is_none_or(|p| t.time - p > CONVERSATION_MS);
            last_sourced = Some(t.time);
            ok
        })
        .collect()
}

/// The source a journey is credited to when nothing attributable happened.
pub fn direct() -> Source {
    Source {
        channel: "direct".into(),
        source: String::new(),
        campaign: String::new(),
        ad: String::new(),
    }
}

// ---------------------------------------------------------------- funnels

/// How funnel entrants are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Everyone together.
    None,
    /// By the campaign of the last attributed touch before entering the funnel.
    Campaign,
    /// By the channel of that touch.
    Channel,
}

/// A funnel question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelQuery {
    /// Ordered steps (see [`Touch::step`]).
    pub steps: Vec<String>,
    /// Entry (first step) at or after this time, ms.
    pub from: i64,
    /// Entry before this time, ms.
    pub to: i64,
    /// Each later step must happen within this long of the entry, ms.
    pub window_ms: i64,
    /// Grouping.
    pub group_by: GroupBy,
}

/// One step's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// Step name.
    pub step: String,
    /// Profiles that reached it (in order, within the window).
    pub count: u64,
    /// count / previous step's count (1 for the first step, 0 when the previous is 0).
    pub conversion_from_previous: f64,
    /// count / first step's count.
    pub conversion_from_start: f64,
    /// Median ms from the previous step (None for the first step or nobody).
    pub median_ms_from_previous: Option<i64>,
}

/// A funnel for one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelGroup {
    /// Group key (campaign or channel; `all` when not grouped; `(none)` when empty).
    pub group: String,
    /// The steps.
    pub steps: Vec<FunnelStep>,
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Counts, for each group, how many profiles entered the funnel in the date
/// range and reached each later step in order within the window (each step
/// matched at its earliest time after the previous one).
pub fn funnel(journeys: &[Journey], q: &FunnelQuery) -> Vec<FunnelGroup> {
    let mut groups: BTreeMap<String, (Vec<u64>, Vec<Vec<i64>>)> = BTreeMap::new();
    for j in journeys {
        let touches = j.sorted();
        let Some(entry) = touches
            .iter()
            .position(|t| t.step == q.steps[0] && t.time >= q.from && t.time < q.to)
        else {
            continue;
        };
        let start = touches[entry].time;
        let ok = credited(&touches);
        let key = match q.group_by {
            GroupBy::None => "all".to_owned(),
            g => {
                let src = touches[..=entry]
                    .iter()
                    .zip(&ok)
                    .rev()
                    .find_map(|(t, ok)| t.source.as_ref().filter(|_| *ok));
                let v = match (g, src) {
                    (GroupBy::Campaign, Some(s)) => s.campaign.clone(),
                    (GroupBy::Channel, Some(s)) => s.channel.clone(),
                    (_, None) => direct().channel,
                    (GroupBy::None, _) => unreachable!(),
                };
                if v.is_empty() {
                    "(none)".to_owned()
                } else {
                    v
                }
            }
        };
        let (counts, gaps) = groups
            .entry(key)
            .or_insert_with(|| (vec![0; q.steps.len()], vec![Vec::new(); q.steps.len()]));
        counts[0] += 1;
        let (mut at, mut prev_time) = (entry, start);
        for (i, step) in q.steps.iter().enumerate().skip(1) {
            let found = touches[at + 1..]
                .iter()
                .position(|t| &t.step == step && t.time - start <= q.window_ms);
            let Some(k) = found else { break };
            at = at + 1 + k;
            counts[i] += 1;
            gaps[i].push(touches[at].time - prev_time);
            prev_time = touches[at].time;
        }
    }
    groups
        .into_iter()
        .map(|(group, (counts, mut gaps))| FunnelGroup {
            group,
            steps: q
                .steps
                .iter()
                .enumerate()
                .map(|(i, step)| FunnelStep {
                    step: step.clone(),
                    count: counts[i],
                    conversion_from_previous: if i == 0 {
                        1.0
                    } else {
                        ratio(counts[i], counts[i - 1])
                    },
                    conversion_from_start: ratio(counts[i], counts[0]),
                    median_ms_from_previous: if i == 0 { None } else { median(&mut gaps[i]) },
                })
                .collect(),
        })
        .collect()
}

// ------------------------------------------------------------ attribution

/// How an order's credit is shared among the touches before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// All to the first attributed touch.
    FirstTouch,
    /// All to the last attributed touch.
    LastTouch,
    /// Equal shares.
    Linear,
    /// Shares halving every `TIME_DECAY_HALF_LIFE_MS` before the order.
    TimeDecay,
}

/// Half-life of the time-decay model (7 days, as GA's).
pub const TIME_DECAY_HALF_LIFE_MS: i64 = 7 * DAY_MS;
/// Touches older than this before an order get no credit (30 days).
pub const LOOKBACK_MS: i64 = 30 * DAY_MS;

/// Credit weights for touches at `times` before an order at `order_time`
/// (the touches are in time order and all within the lookback).
pub fn weights(model: Model, times: &[i64], order_time: i64) -> Vec<f64> {
    let n = times.len();
    if n == 0 {
        return Vec::new();
    }
    let mut w = vec![0.0; n];
    match model {
        Model::FirstTouch => w[0] = 1.0,
        Model::LastTouch => w[n - 1] = 1.0,
        Model::Linear => w.iter_mut().for_each(|x| *x = 1.0 / n as f64),
        Model::TimeDecay => {
            for (x, t) in w.iter_mut().zip(times) {
                *x = 0.5f64.powf((order_time - t) as f64 / TIME_DECAY_HALF_LIFE_MS as f64);
            }
            let sum: f64 = w.iter().sum();
            w.iter_mut().for_each(|x| *x /= sum);
        }
    }
    w
}

/// A campaign row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRow {
    /// The source (channel, source, campaign, ad).
    #[serde(flatten)]
    pub source: Source,
    /// Profiles with at least one touch from it in the range.
    pub visitors: u64,
    /// Orders credited (fractional under linear and time-decay).
    pub orders: f64,
    /// Revenue credited.
    pub revenue: f64,
    /// orders / visitors.
    pub conversion_rate: f64,
    /// Spend supplied for it (0 when none).
    pub spend: f64,
    /// spend / orders (None without orders or spend).
    pub cost_per_order: Option<f64>,
    /// revenue / spend (None without spend).
    pub roas: Option<f64>,
}

/// Spend on a campaign (summed over days by the caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Campaign name or id, as in [`Source::campaign`].
    pub campaign: String,
    /// Amount in the report currency.
    pub amount: f64,
}

/// Orders and revenue by source under `model`, for orders in `[from, to)`.
/// Orders with no attributed touch in the lookback are credited to
/// [`direct`]. Spend is matched by campaign (split over its ad rows by
/// their share of visitors).
pub fn campaigns(
    journeys: &[Journey],
    model: Model,
    from: i64,
    to: i64,
    spend: &[Spend],
) -> Vec<CampaignRow> {
    #[derive(Default)]
    struct Acc {
        visitors: u64,
        orders: f64,
        revenue: f64,
    }
    let mut acc: BTreeMap<Source, Acc> = BTreeMap::new();
    for j in journeys {
        let touches = j.sorted();
        let ok = credited(&touches);
        let mut seen: Vec<&Source> = Vec::new();
        for (t, _) in touches.iter().zip(&ok).filter(|(_, ok)| **ok) {
            if let Some(s) = &t.source {
                if t.time >= from - LOOKBACK_MS && t.time < to && !seen.contains(&s) {
                    seen.push(s);
                    acc.entry(s.clone()).or_default().visitors += 1;
                }
            }
        }
        for (i, order) in touches.iter().enumerate() {
            if order.step != "order" || order.time < from || order.time >= to {
                continue;
            }
            let before: Vec<&&Touch> = touches[..i]
                .iter()
                .zip(&ok)
                .filter(|(t, ok)| **ok && order.time - t.time <= LOOKBACK_MS)
                .map(|(t, _)| t)
                .collect();
            let value = order.value.unwrap_or(0.0);
            if before.is_empty() {
                let a = acc.entry(direct()).or_default();
                a.orders += 1.0;
                a.revenue += value;
                continue;
            }
            let times: Vec<i64> = before.iter().map(|t| t.time).collect();
            for (t, w) in before.iter().zip(weights(model, &times, order.time)) {
                if let Some(s) = &t.source {
                    let a = acc.entry(s.clone()).or_default();
                    a.orders += w;
                    a.revenue += w * value;
                }
            }
        }
    }
    let campaign_visitors = |c: &str| -> u64 {
        acc.iter()
            .filter(|(s, _)| s.campaign == c)
            .map(|(_, a)| a.visitors)
            .sum()
    };
    let rows: Vec<CampaignRow> = acc
        .iter()
        .map(|(s, a)| {
            let total: f64 = spend
                .iter()
                .filter(|sp| sp.campaign == s.campaign && !s.campaign.is_empty())
                .map(|sp| sp.amount)
                .sum();
            let share = ratio(a.visitors, campaign_visitors(&s.campaign));
            // `+ 0.0` turns the empty sum's -0.0 into 0.0 for the JSON.
            let spent = total * share + 0.0;
            CampaignRow {
                source: s.clone(),
                visitors: a.visitors,
                orders: a.orders,
                revenue: a.revenue,
                conversion_rate: if a.visitors == 0 {
                    0.0
                } else {
                    a.orders / a.visitors as f64
                },
                spend: spent,
                cost_per_order: (spent > 0.0 && a.orders > 0.0).then(|| spent / a.orders),
                roas: (spent > 0.0).then(|| a.revenue / spent),
            }
        })
        .collect();
    let mut rows = rows;
    rows.sort_by(|a, b| {
        b.revenue
            .total_cmp(&a.revenue)
            .then_with(|| a.source.cmp(&b.source))
    });
    rows
}

// ---------------------------------------------------------------- cohorts

/// Start (Monday 00:00 UTC) of the week holding `t`, ms.
pub fn week_start(t: i64) -> i64 {
    (t - MONDAY_OFFSET_MS).div_euclid(WEEK_MS) * WEEK_MS + MONDAY_OFFSET_MS
}

/// A weekly cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    /// Monday 00:00 UTC of the first-touch week, ms.
    pub week: i64,
    /// Profiles whose first touch fell in that week.
    pub size: u64,
    /// `converted[k]`: share of the cohort whose first order fell in week k after the first touch's week.
    pub converted: Vec<f64>,
}

/// Weekly cohorts by first touch, with the share converting (first order)
/// in each of the following `weeks` weeks (week 0 is the cohort's own).
pub fn cohorts(journeys: &[Journey], weeks: usize) -> Vec<Cohort> {
    let mut by_week: BTreeMap<i64, (u64, Vec<u64>)> = BTreeMap::new();
    for j in journeys {
        let touches = j.sorted();
        let Some(first) = touches.first() else {
            continue;
        };
        let week = week_start(first.time);
        let entry = by_week.entry(week).or_insert_with(|| (0, vec![0; weeks]));
        entry.0 += 1;
        if let Some(order) = touches.iter().find(|t| t.step == "order") {
            let k = ((week_start(order.time) - week) / WEEK_MS) as usize;
            if k < weeks {
                entry.1[k] += 1;
            }
        }
    }
    by_week
        .into_iter()
        .map(|(week, (size, conv))| Cohort {
            week,
            size,
            converted: conv.iter().map(|c| ratio(*c, size)).collect(),
        })
        .collect()
}

// --------------------------------------------------------- time to convert

/// Time from first touch to first order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeToConvert {
    /// Converted profiles.
    pub converted: u64,
    /// Median ms (None without conversions).
    pub median_ms: Option<i64>,
    /// Counts per bucket: under 1 h, 1-24 h, 1-7 d, 7-30 d, over 30 d.
    pub buckets: Vec<(String, u64)>,
}

/// The distribution of first touch -> first order.
pub fn time_to_convert(journeys: &[Journey]) -> TimeToConvert {
    let bounds: [(&str, i64); 5] = [
        ("< 1 h", HOUR_MS),
        ("1-24 h", DAY_MS),
        ("1-7 d", 7 * DAY_MS),
        ("7-30 d", 30 * DAY_MS),
        (">= 30 d", i64::MAX),
    ];
    let mut counts = [0u64; 5];
    let mut all = Vec::new();
    for j in journeys {
        let touches = j.sorted();
        let (Some(first), Some(order)) =
            (touches.first(), touches.iter().find(|t| t.step == "order"))
        else {
            continue;
        };
        let d = order.time - first.time;
        all.push(d);
        if let Some(i) = bounds.iter().position(|(_, max)| d < *max) {
            counts[i] += 1;
        }
    }
    TimeToConvert {
        converted: all.len() as u64,
        median_ms: median(&mut all),
        buckets: bounds
            .iter()
            .zip(counts)
            .map(|((n, _), c)| ((*n).to_owned(), c))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(channel: &str, campaign: &str, ad: &str) -> Option<Source> {
        Some(Source {
            channel: channel.into(),
            source: "meta".into(),
            campaign: campaign.into(),
            ad: ad.into(),
        })
    }

    fn t(id: &str, time: i64, step: &str) -> Touch {
        Touch {
            event_id: id.into(),
            time,
            step: step.into(),
            source: None,
            value: None,
            organic: false,
        }
    }

    fn with(mut touch: Touch, source: Option<Source>, value: Option<f64>) -> Touch {
        touch.source = source;
        touch.value = value;
        touch
    }

    fn j(id: &str, touches: Vec<Touch>) -> Journey {
        Journey {
            profile_id: id.into(),
            touches,
        }
    }

    fn q(steps: &[&str], window_ms: i64, group_by: GroupBy) -> FunnelQuery {
        FunnelQuery {
            steps: steps.iter().map(|s| s.to_string()).collect(),
            from: 0,
            to: 100 * DAY_MS,
            window_ms,
            group_by,
        }
    }

    #[test]
    fn funnel_counts_ordered_steps_within_the_window() {
        let js = vec![
            // a: view -> address (10 min) -> order (20 min later): all three.
            j(
                "a",
                vec![
                    t("1", 0, "product_view"),
                    t("2", 600_000, "checkout:address"),
                    t("3", 1_800_000, "order"),
                ],
            ),
            // b: address BEFORE view does not count; reaches only step 1.
            j(
                "b",
                vec![
                    t("1", 0, "checkout:address"),
                    t("2", 60_000, "product_view"),
                ],
            ),
            // c: order 2 days after entry, window 1 day: stops at address.
            j(
                "c",
                vec![
                    t("1", 0, "product_view"),
                    t("2", 1_200_000, "checkout:address"),
                    t("3", 2 * DAY_MS, "order"),
                ],
            ),
            // d: never enters.
            j("d", vec![t("1", 0, "page_view")]),
        ];
        let f = funnel(
            &js,
            &q(
                &["product_view", "checkout:address", "order"],
                DAY_MS,
                GroupBy::None,
            ),
        );
        assert_eq!(f.len(), 1);
        let s = &f[0].steps;
        assert_eq!(s.iter().map(|x| x.count).collect::<Vec<_>>(), [3, 2, 1]);
        assert!((s[1].conversion_from_previous - 2.0 / 3.0).abs() < 1e-12);
        assert!((s[2].conversion_from_previous - 0.5).abs() < 1e-12);
        assert!((s[2].conversion_from_start - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s[1].median_ms_from_previous, Some(900_000)); // median of 10 and 20 min
        assert_eq!(s[2].median_ms_from_previous, Some(1_200_000));
        assert_eq!(s[0].median_ms_from_previous, None);
    }

    #[test]
    fn funnel_groups_by_the_campaign_before_entry() {
        let js = vec![
            j(
                "a",
                vec![
                    with(t("0", 0, "page_view"), src("web", "diwali", ""), None),
                    t("1", 5, "product_view"),
                ],
            ),
            j("b", vec![t("1", 5, "product_view"), t("2", 6, "order")]),
        ];
        let f = funnel(
            &js,
            &q(&["product_view", "order"], DAY_MS, GroupBy::Campaign),
        );
        let keys: Vec<(&str, Vec<u64>)> = f
            .iter()
            .map(|g| (g.group.as_str(), g.steps.iter().map(|s| s.count).collect()))
            .collect();
        assert_eq!(keys, [("direct", vec![1, 1]), ("diwali", vec![1, 0])]);
    }

    #[test]
    fn attribution_models_split_credit_as_documented() {
        let times = [0, 7 * DAY_MS];
        let order = 14 * DAY_MS;
        assert_eq!(weights(Model::FirstTouch, &times, order), [1.0, 0.0]);
        assert_eq!(weights(Model::LastTouch, &times, order), [0.0, 1.0]);
        assert_eq!(weights(Model::Linear, &times, order), [0.5, 0.5]);
        // 14 days before -> 1/4, 7 days -> 1/2; normalised: 1/3 and 2/3.
        let td = weights(Model::TimeDecay, &times, order);
        assert!(
            (td[0] - 1.0 / 3.0).abs() < 1e-12 && (td[1] - 2.0 / 3.0).abs() < 1e-12,
            "{td:?}"
        );
    }

    #[test]
    fn campaign_table_credits_orders_revenue_spend_and_roas() {
        let ctwa = src("whatsapp", "diwali", "ad_1");
        let ig = src("instagram", "reels", "");
        let js = vec![
            // Two touches then a 1000 order.
            j(
                "a",
                vec![
                    with(t("1", 0, "whatsapp_inbound"), ctwa.clone(), None),
                    with(t("2", DAY_MS, "page_view"), ig.clone(), None),
                    with(t("3", 2 * DAY_MS, "order"), None, Some(1000.0)),
                ],
            ),
            // Direct order of 500.
            j("b", vec![with(t("1", DAY_MS, "order"), None, Some(500.0))]),
            // CTWA chat, no order.
            j(
                "c",
                vec![with(t("1", 0, "whatsapp_inbound"), ctwa.clone(), None)],
            ),
        ];
        let spend = [Spend {
            campaign: "diwali".into(),
            amount: 200.0,
        }];
        let rows = campaigns(&js, Model::FirstTouch, 0, 10 * DAY_MS, &spend);
        let find = |c: &str| {
            rows.iter()
                .find(|r| r.source.campaign == c || (c.is_empty() && r.source.channel == "direct"))
                .expect(c)
        };
        let d = find("diwali");
        assert_eq!(
            (d.visitors, d.orders, d.revenue, d.spend),
            (2, 1.0, 1000.0, 200.0)
        );
        assert_eq!(
            (d.conversion_rate, d.cost_per_order, d.roas),
            (0.5, Some(200.0), Some(5.0))
        );
        assert_eq!((find("reels").orders, find("reels").revenue), (0.0, 0.0));
        assert_eq!((find("").orders, find("").revenue), (1.0, 500.0));
        let rows = campaigns(&js, Model::LastTouch, 0, 10 * DAY_MS, &spend);
        assert_eq!(
            rows.iter()
                .find(|r| r.source.campaign == "reels")
                .map(|r| r.revenue),
            Some(1000.0)
        );
        let rows = campaigns(&js, Model::Linear, 0, 10 * DAY_MS, &spend);
        assert_eq!(
            rows.iter()
                .find(|r| r.source.campaign == "reels")
                .map(|r| r.orders),
            Some(0.5)
        );
        assert_eq!(
            rows[0].revenue, 500.0,
            "sorted by revenue: direct 500, then 500 and 500"
        );
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        // 2026-11-26 (Thursday) 10:00 UTC -> Monday 2026-11-23 00:00 UTC.
        assert_eq!(week_start(1_795_687_200_000), 1_795_392_000_000);
        assert_eq!(week_start(1_795_392_000_000), 1_795_392_000_000);
    }

    #[test]
    fn cohorts_count_first_orders_by_week_after_first_touch() {
        let mon = 1_795_392_000_000;
        let js = vec![
            j(
                "a",
                vec![t("1", mon, "page_view"), t("2", mon + DAY_MS, "order")],
            ),
            j(
                "b",
                vec![
                    t("1", mon + 2 * DAY_MS, "page_view"),
                    t("2", mon + 8 * DAY_MS, "order"),
                ],
            ),
            j("c", vec![t("1", mon + 3 * DAY_MS, "page_view")]),
            j("d", vec![t("1", mon + WEEK_MS, "page_view")]),
        ];
        let c = cohorts(&js, 3);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].week, c[0].size), (mon, 3));
        assert_eq!(c[0].converted, [1.0 / 3.0, 1.0 / 3.0, 0.0]);
        assert_eq!(
            (c[1].week, c[1].size, c[1].converted.clone()),
            (mon + WEEK_MS, 1, vec![0.0, 0.0, 0.0])
        );
    }

    #[test]
    fn time_to_convert_buckets_and_median() {
        let js = vec![
            j(
                "a",
                vec![t("1", 0, "page_view"), t("2", 30 * 60_000, "order")],
            ),
            j(
                "b",
                vec![t("1", 0, "page_view"), t("2", 3 * DAY_MS, "order")],
            ),
            j(
                "c",
                vec![t("1", 0, "page_view"), t("2", 40 * DAY_MS, "order")],
            ),
            j("d", vec![t("1", 0, "page_view")]),
        ];
        let r = time_to_convert(&js);
        assert_eq!(r.converted, 3);
        assert_eq!(r.median_ms, Some(3 * DAY_MS));
        let counts: Vec<u64> = r.buckets.iter().map(|(_, c)| *c).collect();
        assert_eq!(counts, [1, 0, 1, 0, 1]);
    }

    #[test]
    fn organic_touches_earn_credit_only_after_a_quiet_day() {
        let mut chat = with(
            t("2", HOUR_MS, "whatsapp_inbound"),
            src("whatsapp", "", ""),
            None,
        );
        chat.organic = true;
        let mut later = with(t("4", 3 * DAY_MS, "page_view"), src("search", "", ""), None);
        later.organic = true;
        let js = vec![j(
            "a",
            vec![
                with(
                    t("1", 0, "whatsapp_inbound"),
                    src("ads", "diwali", "ad_1"),
                    None,
                ),
                // The same conversation, an hour after the ad: no credit.
                chat,
                with(t("3", 2 * HOUR_MS, "order"), None, Some(900.0)),
                // An organic search visit 3 days later: its own source.
                later,
                with(t("5", 3 * DAY_MS + HOUR_MS, "order"), None, Some(300.0)),
            ],
        )];
        let sorted = js[0].sorted();
        assert_eq!(credited(&sorted), [true, false, false, true, false]);
        // Last touch: 900 to the ad, 300 to organic search.
        let rows = campaigns(&js, Model::LastTouch, 0, 10 * DAY_MS, &[]);
        let rev = |ch: &str| {
            rows.iter()
                .find(|r| r.source.channel == ch)
                .map(|r| (r.orders, r.revenue))
        };
        assert_eq!(rev("ads"), Some((1.0, 900.0)));
        assert_eq!(rev("search"), Some((1.0, 300.0)));
        assert_eq!(rev("whatsapp"), None, "the chat's later message is no row");
        // Linear: the first order has one credited touch (the ad); the second
        // has two (ad, search), 150 each.
        let rows = campaigns(&js, Model::Linear, 0, 10 * DAY_MS, &[]);
        let ads = rows
            .iter()
            .find(|r| r.source.channel == "ads")
            .expect("ads");
        assert_eq!((ads.orders, ads.revenue), (1.5, 1050.0));
    }
}
