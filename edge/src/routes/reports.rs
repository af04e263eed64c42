//! The reports API, behind the bearer API key. Each handler reads its
//! parameters with the core's parsers (named limits, clear 400s), loads the
//! journeys of the range from D1 (`touches.rs`) and runs the core's report
//! functions:
//! `GET /v1/reports/funnel?steps=a,b,c&from=&to=&window=7d&group_by=none|campaign|channel`,
//! `GET /v1/reports/campaigns?model=first_touch|last_touch|linear|time_decay&from=&to=&currency=`,
//! `GET /v1/reports/cohorts?from=&to=&weeks=8`,
//! `GET /v1/reports/time-to-convert?from=&to=`.

use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use touchline_shared::report_params::{
    parse_group_by, parse_model, parse_range, parse_steps, parse_weeks, parse_window, ParamError,
    DEFAULT_COHORT_WEEKS, DEFAULT_WINDOW_MS,
};
use touchline_shared::reports::{
    campaigns as campaign_rows, cohorts as cohort_rows, funnel as funnel_groups,
    time_to_convert as ttc, FunnelGroup, FunnelQuery, FunnelStep, GroupBy, Journey, Model, Spend,
    LOOKBACK_MS,
};
use worker::{Date, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config::require_api_key;
use crate::error::{respond, AppError, AppResult};
use crate::touches::{load, Profiles};

const WEEK_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Longest currency parameter (ISO 4217 codes are 3 letters).
const CURRENCY_LEN: usize = 3;

/// A request's query parameters (also read by `routes/predict.rs`).
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn of(req: &Request) -> std::result::Result<Self, AppError> {
        Ok(Query(
            req.url()?
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn range(&self) -> std::result::Result<(i64, i64), AppError> {
        parse_range(self.get("from"), self.get("to"), now()).map_err(bad)
    }
}

pub(crate) fn bad((code, message): ParamError) -> AppError {
    AppError::BadRequest(code, message)
}

pub(crate) fn now() -> i64 {
    Date::now().as_millis() as i64
}

/// A funnel: counts and conversion per step, median time between steps.
pub async fn funnel(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(funnel_inner(&req, &ctx).await)
}

async fn funnel_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let q = Query::of(req)?;
    let steps = parse_steps(q.get("steps").ok_or_else(|| {
        AppError::BadRequest(
            "bad_steps",
            "steps is required: e.g. steps=product_view,checkout:address,order".into(),
        )
    })?)
    .map_err(bad)?;
    let (from, to) = q.range()?;
    let window_ms = q
        .get("window")
        .map(parse_window)
        .transpose()
        .map_err(bad)?
        .unwrap_or(DEFAULT_WINDOW_MS);
    let group_by = q
        .get("group_by")
        .map(parse_group_by)
        .transpose()
        .map_err(bad)?
        .unwrap_or(GroupBy::None);
    let loaded = load(
        &ctx.env,
        Profiles::ActiveIn(from, to),
        from - LOOKBACK_MS,
        to + window_ms,
    )
    .await?;
    let query = FunnelQuery {
        steps: steps.clone(),
        from,
        to,
        window_ms,
        group_by,
    };
    let mut groups = funnel_groups(&loaded.journeys, &query);
    if groups.is_empty() && group_by == GroupBy::None {
        groups.push(FunnelGroup {
            group: "all".into(),
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, s)| FunnelStep {
                    step: s.clone(),
                    count: 0,
                    conversion_from_previous: if i == 0 { 1.0 } else { 0.0 },
                    conversion_from_start: 0.0,
                    median_ms_from_previous: None,
                })
                .collect(),
        });
    }
    Ok(Response::from_json(&json!({
        "steps": steps,
        "from": from,
        "to": to,
        "window_ms": window_ms,
        "group_by": group_by,
        "groups": groups,
        "profiles": loaded.journeys.len(),
        "truncated": loaded.truncated,
    }))?)
}

#[derive(Deserialize)]
struct SpendRow {
    campaign: String,
    amount: f64,
}

/// The report currency: the one asked for, else the most common among the
/// orders of the range (INR when there are none).
fn pick_currency(
    asked: Option<&str>,
    journeys: &[Journey],
    currencies: &BTreeMap<String, String>,
    from: i64,
    to: i64,
) -> std::result::Result<String, AppError> {
    if let Some(c) = asked {
        let ok = c.len() == CURRENCY_LEN && c.bytes().all(|b| b.is_ascii_uppercase());
        return if ok {
            Ok(c.to_owned())
        } else {
            Err(AppError::BadRequest(
                "bad_currency",
                "currency must be an ISO 4217 code such as INR".into(),
            ))
        };
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in journeys.iter().flat_map(|j| &j.touches) {
        if t.step == "order" && t.time >= from && t.time < to {
            if let Some(c) = currencies.get(&t.event_id) {
                *counts.entry(c.as_str()).or_default() += 1;
            }
        }
    }
    Ok(counts
        .into_iter()
        .max_by_key(|(c, n)| (*n, std::cmp::Reverse(*c)))
        .map_or_else(|| "INR".to_owned(), |(c, _)| c.to_owned()))
}

/// Orders, revenue, conversion, cost per order and ROAS by source under a model.
pub async fn campaigns(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(campaigns_inner(&req, &ctx).await)
}

async fn campaigns_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let q = Query::of(req)?;
    let model = q
        .get("model")
        .map(parse_model)
        .transpose()
        .map_err(bad)?
        .unwrap_or(Model::LastTouch);
    let (from, to) = q.range()?;
    let mut loaded = load(
        &ctx.env,
        Profiles::ActiveIn(from, to),
        from - LOOKBACK_MS,
        to,
    )
    .await?;
    let currency = pick_currency(
        q.get("currency"),
        &loaded.journeys,
        &loaded.currencies,
        from,
        to,
    )?;
    // Orders in another currency cannot be added up with these: left out, and counted.
    let mut other_currency_orders = 0;
    for j in &mut loaded.journeys {
        j.touches.retain(|t| {
            let other = t.step == "order"
                && loaded
                    .currencies
                    .get(&t.event_id)
                    .is_some_and(|c| *c != currency);
            if other && t.time >= from && t.time < to {
                other_currency_orders += 1;
            }
            !other
        });
    }
    let spend: Vec<SpendRow> = ctx
        .env
        .d1(bindings::DB)?
        .prepare(
            "SELECT campaign, sum(amount) AS amount FROM spend \
             WHERE day >= ?1 AND day < ?2 AND currency = ?3 GROUP BY campaign",
        )
        .bind(&[
            (from as f64).into(),
            (to as f64).into(),
            currency.as_str().into(),
        ])?
        .all()
        .await?
        .results()?;
    let spend: Vec<Spend> = spend
        .into_iter()
        .map(|s| Spend {
            campaign: s.campaign,
            amount: s.amount,
        })
        .collect();
    let rows = campaign_rows(&loaded.journeys, model, from, to, &spend);
    let orders: f64 = rows.iter().map(|r| r.orders).sum();
    let revenue: f64 = rows.iter().map(|r| r.revenue).sum();
    let total_spend: f64 = spend.iter().map(|s| s.amount).sum();
    Ok(Response::from_json(&json!({
        "model": model,
        "from": from,
        "to": to,
        "currency": currency,
        "rows": rows,
        "totals": {
            "orders": orders,
            "revenue": revenue,
            "spend": total_spend,
            "roas": (total_spend > 0.0).then(|| revenue / total_spend),
        },
        "other_currency_orders": other_currency_orders,
        "profiles": loaded.journeys.len(),
        "truncated": loaded.truncated,
    }))?)
}

/// Weekly cohorts by first touch, with conversion in the following weeks.
pub async fn cohorts(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(cohorts_inner(&req, &ctx).await)
}

async fn cohorts_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let q = Query::of(req)?;
    let (from, to) = q.range()?;
    let weeks = q
        .get("weeks")
        .map(parse_weeks)
        .transpose()
        .map_err(bad)?
        .unwrap_or(DEFAULT_COHORT_WEEKS);
    let loaded = load(
        &ctx.env,
        Profiles::FirstTouchIn(from, to),
        from,
        to + (weeks as i64 + 1) * WEEK_MS,
    )
    .await?;
    Ok(Response::from_json(&json!({
        "from": from,
        "to": to,
        "weeks": weeks,
        "cohorts": cohort_rows(&loaded.journeys, weeks),
        "profiles": loaded.journeys.len(),
        "truncated": loaded.truncated,
    }))?)
}

/// The distribution of first touch -> first order.
pub async fn time_to_convert(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(time_to_convert_inner(&req, &ctx).await)
}

async fn time_to_convert_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let q = Query::of(req)?;
    let (from, to) = q.range()?;
    let loaded = load(
        &ctx.env,
        Profiles::FirstTouchIn(from, to),
        from,
        now().max(to),
    )
    .await?;
    let r = ttc(&loaded.journeys);
    Ok(Response::from_json(&json!({
        "from": from,
        "to": to,
        "converted": r.converted,
        "median_ms": r.median_ms,
        "buckets": r.buckets.iter().map(|(label, count)| json!({"label": label, "count": count})).collect::<Vec<_>>(),
        "profiles": loaded.journeys.len(),
        "truncated": loaded.truncated,
    }))?)
}
