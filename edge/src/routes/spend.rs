//! `POST /v1/spend` (bearer API key): ad spend per campaign and day, for cost
//! per order and ROAS in the campaign report. Body: one line
//! `{"campaign": "diwali", "day": "2026-11-20", "amount": 1500, "currency": "INR"}`
//! or `{"spend": [line, …]}` (at most `MAX_SPEND_LINES`). Posting the same
//! campaign, day and currency again replaces the amount, so a daily import can
//! simply be re-run. Every line is checked before any is stored.

use serde::Deserialize;
use serde_json::json;
use touchline_shared::limits::{MAX_SPEND_AMOUNT, MAX_SPEND_LINES, MAX_TEXT_LEN};
use touchline_shared::report_params::parse_day;
use worker::{Date, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config::require_api_key;
use crate::error::{respond, AppError, AppResult};
use crate::routes::profiles::small_json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    campaign: String,
    day: String,
    amount: f64,
    currency: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    Many { spend: Vec<Line> },
    One(Line),
}

/// Stores spend lines.
pub async fn post(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(post_inner(&mut req, &ctx).await)
}

fn check(i: usize, l: &Line) -> std::result::Result<i64, AppError> {
    let bad = |m: String| AppError::BadRequest("bad_spend", format!("spend[{i}].{m}"));
    if l.campaign.is_empty()
        || l.campaign.len() > MAX_TEXT_LEN
        || l.campaign.chars().any(char::is_control)
    {
        return Err(bad(format!("campaign: must be 1 to {MAX_TEXT_LEN} bytes of text (the utm_campaign, ad id or campaign name)")));
    }
    if !(l.amount.is_finite() && (0.0..=MAX_SPEND_AMOUNT).contains(&l.amount)) {
        return Err(bad(format!(
            "amount: must be a number from 0 to {MAX_SPEND_AMOUNT}"
        )));
    }
    if !(l.currency.len() == 3 && l.currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(bad("currency: must be an ISO 4217 code such as INR".into()));
    }
    parse_day(&l.day).map_err(|(_, m)| bad(format!("day: {m}")))
}

async fn post_inner(req: &mut Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let lines = match small_json::<Body>(req).await? {
        Body::Many { spend } => spend,
        Body::One(l) => vec![l],
    };
    if lines.is_empty() || lines.len() > MAX_SPEND_LINES {
        return Err(AppError::BadRequest(
            "bad_spend",
            format!("send 1 to {MAX_SPEND_LINES} spend lines"),
        ));
    }
    let days = lines
        .iter()
        .enumerate()
        .map(|(i, l)| check(i, l))
        .collect::<std::result::Result<Vec<i64>, AppError>>()?;
    let db = ctx.env.d1(bindings::DB)?;
    let now = Date::now().as_millis() as f64;
    let stmt = db.prepare(
        "INSERT INTO spend (campaign, day, currency, amount, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (campaign, day, currency) DO UPDATE SET amount = excluded.amount, updated_at = excluded.updated_at",
    );
    let mut batch = Vec::new();
    for (l, day) in lines.iter().zip(&days) {
        batch.push(stmt.clone().bind(&[
            l.campaign.as_str().into(),
            (*day as f64).into(),
            l.currency.as_str().into(),
            l.amount.into(),
            now.into(),
        ])?);
    }
    db.batch(batch).await?;
    Ok(Response::from_json(&json!({ "stored": lines.len() }))?)
}
