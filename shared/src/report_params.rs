//! Reading report questions from query strings: steps, attribution model,
//! date range, conversion window, grouping. Every input has a named limit and
//! every refusal says what would have been accepted.

use crate::limits::{
    MAX_COHORT_WEEKS, MAX_FUNNEL_STEPS, MAX_FUNNEL_WINDOW_MS, MAX_REPORT_RANGE_MS, MAX_SLUG_LEN,
};
use crate::reports::{GroupBy, Model};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// The range when none is given: the 30 days up to now.
pub const DEFAULT_RANGE_MS: i64 = 30 * DAY_MS;
/// The conversion window when none is given (7 days).
pub const DEFAULT_WINDOW_MS: i64 = 7 * DAY_MS;
/// Weeks shown after each cohort's own when none is given.
pub const DEFAULT_COHORT_WEEKS: usize = 8;

/// Event kinds a funnel step may name (besides `checkout:<step>`).
pub const STEP_KINDS: [&str; 17] = [
    "page_view",
    "product_view",
    "scroll",
    "engagement",
    "pricing_view",
    "checkout_step",
    "order",
    "whatsapp_click",
    "search",
    "identify",
    "custom",
    "whatsapp_inbound",
    "order_status",
    "crm_stage",
    "instagram",
    "paid_search",
    "instagram_inbound",
];

/// A refused parameter: (error code, message).
pub type ParamError = (&'static str, String);

/// Reads `a,b,c` into funnel steps: event kinds or `checkout:<step>`.
pub fn parse_steps(s: &str) -> Result<Vec<String>, ParamError> {
    let steps: Vec<String> = s
        .split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect();
    if steps.len() < 2 || steps.len() > MAX_FUNNEL_STEPS {
        return Err((
            "bad_steps",
            format!("steps must list 2 to {MAX_FUNNEL_STEPS} steps, comma-separated"),
        ));
    }
    for step in &steps {
        let ok = match step.strip_prefix("checkout:") {
            Some(slug) => {
                !slug.is_empty()
                    && slug.len() <= MAX_SLUG_LEN
                    && slug.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    })
            }
            None => STEP_KINDS.contains(&step.as_str()),
        };
        if !ok {
            let shown: String = step.chars().take(40).collect();
            return Err((
                "unknown_step",
                format!(
                    "unknown step `{shown}`: use an event kind ({}) or checkout:<step> such as checkout:address",
                    STEP_KINDS.join(", ")
                ),
            ));
        }
    }
    Ok(steps)
}

/// Reads an attribution model name.
pub fn parse_model(s: &str) -> Result<Model, ParamError> {
    match s {
        "first_touch" => Ok(Model::FirstTouch),
        "last_touch" => Ok(Model::LastTouch),
        "linear" => Ok(Model::Linear),
        "time_decay" => Ok(Model::TimeDecay),
        _ => Err((
            "unknown_model",
            format!(
                "unknown attribution model `{}`: use first_touch, last_touch, linear or time_decay",
                s.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// Reads a grouping.
pub fn parse_group_by(s: &str) -> Result<GroupBy, ParamError> {
    match s {
        "none" => Ok(GroupBy::None),
        "campaign" => Ok(GroupBy::Campaign),
        "channel" => Ok(GroupBy::Channel),
        _ => Err((
            "bad_group_by",
            "group_by must be none, campaign or channel".into(),
        )),
    }
}

/// Reads a conversion window such as `30m`, `24h` or `7d` (1 minute to 90 days).
pub fn parse_window(s: &str) -> Result<i64, ParamError> {
    let err = || {
        (
            "bad_window",
            format!(
                "window must be a number followed by m, h or d (e.g. 7d), at most {} days",
                MAX_FUNNEL_WINDOW_MS / DAY_MS
            ),
        )
    };
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| err())?;
    let unit_ms = match unit {
        "m" => MINUTE_MS,
        "h" => 60 * MINUTE_MS,
        "d" => DAY_MS,
        _ => return Err(err()),
    };
    let ms = n.checked_mul(unit_ms).ok_or_else(err)?;
    if !(MINUTE_MS..=MAX_FUNNEL_WINDOW_MS).contains(&ms) {
        return Err(err());
    }
    Ok(ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads `YYYY-MM-DD` (UTC) into the ms of that day's start.
pub fn parse_day(s: &str) -> Result<i64, ParamError> {
    let err = || {
        (
            "bad_date",
            format!(
                "`{}` is not a date: use YYYY-MM-DD",
                s.chars().take(40).collect::<String>()
            ),
        )
    };
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, ParamError> {
        s.get(r)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|p| p.parse().ok())
            .ok_or_else(err)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month[(m - 1) as usize] {
        return Err(err());
    }
    Ok(days_from_civil(y, m, d) * DAY_MS)
}

/// `YYYY-MM-DD` of a time (UTC).
pub fn format_day(ms: i64) -> String {
    let z = ms.div_euclid(DAY_MS) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Reads a range bound: a `YYYY-MM-DD` day or ms since the epoch.
fn parse_bound(s: &str) -> Result<(i64, bool), ParamError> {
    if !s.is_empty() && s.len() <= 15 && s.bytes().all(|c| c.is_ascii_digit()) {
        return s
            .parse()
            .map(|ms| (ms, false))
            .map_err(|_| ("bad_date", "time out of range".into()));
    }
    parse_day(s).map(|ms| (ms, true))
}

/// The half-open range `[from, to)` in ms. `from` and `to` are days
/// (`YYYY-MM-DD`, UTC; `to` is included whole) or ms; `to` defaults to now
/// and `from` to 30 days before `to`. Inverted, empty or longer than
/// [`MAX_REPORT_RANGE_MS`]: refused.
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    now: i64,
) -> Result<(i64, i64), ParamError> {
    let to = match to {
        None => now,
        Some(s) => match parse_bound(s)? {
            (day, true) => day + DAY_MS,
            (ms, false) => ms,
        },
    };
    let from = match from {
        None => to - DEFAULT_RANGE_MS,
        Some(s) => parse_bound(s)?.0,
    };
    if from >= to {
        return Err((
            "bad_range",
            format!(
                "from ({}) must be before to ({}): the range is inverted or empty",
                format_day(from),
                format_day(to - 1)
            ),
        ));
    }
    if to - from > MAX_REPORT_RANGE_MS {
        return Err((
            "bad_range",
            format!(
                "the range may span at most {} days",
                MAX_REPORT_RANGE_MS / DAY_MS
            ),
        ));
    }
    Ok((from, to))
}

/// Reads the number of weeks a cohort grid shows (1 to [`MAX_COHORT_WEEKS`]).
pub fn parse_weeks(s: &str) -> Result<usize, ParamError> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_COHORT_WEEKS).contains(n))
        .ok_or_else(|| {
            (
                "bad_weeks",
                format!("weeks must be 1 to {MAX_COHORT_WEEKS}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_event_kinds_or_checkout_steps() {
        assert_eq!(
            parse_steps("product_view, checkout:address,order").expect("valid"),
            ["product_view", "checkout:address", "order"]
        );
        let (code, msg) = parse_steps("product_view,add_to_basket").expect_err("unknown");
        assert_eq!(code, "unknown_step");
        assert!(msg.contains("`add_to_basket`"), "{msg}");
        assert_eq!(parse_steps("order").expect_err("one step").0, "bad_steps");
        assert_eq!(
            parse_steps("order,checkout:Bad Step").expect_err("slug").0,
            "unknown_step"
        );
        let eleven = ["page_view"; 11].join(",");
        assert_eq!(parse_steps(&eleven).expect_err("too many").0, "bad_steps");
    }

    #[test]
    fn models_are_named_in_snake_case() {
        assert_eq!(parse_model("time_decay"), Ok(Model::TimeDecay));
        assert_eq!(parse_model("first_touch"), Ok(Model::FirstTouch));
        assert_eq!(
            parse_model("shapley").expect_err("unknown").0,
            "unknown_model"
        );
    }

    #[test]
    fn windows_read_minutes_hours_and_days() {
        assert_eq!(parse_window("30m"), Ok(30 * MINUTE_MS));
        assert_eq!(parse_window("24h"), Ok(DAY_MS));
        assert_eq!(parse_window("7d"), Ok(7 * DAY_MS));
        for bad in ["", "d", "7", "7w", "-1d", "0m", "91d", "99999999999999999d"] {
            assert_eq!(parse_window(bad).expect_err(bad).0, "bad_window", "{bad}");
        }
    }

    #[test]
    fn days_are_utc_midnights_and_round_trip() {
        // 2026-11-23 is a Monday: 1_795_392_000_000 (see reports::week_start).
        assert_eq!(parse_day("2026-11-23"), Ok(1_795_392_000_000));
        assert_eq!(parse_day("1970-01-01"), Ok(0));
        assert_eq!(parse_day("2024-02-29"), Ok(1_709_164_800_000));
        assert_eq!(format_day(1_795_392_000_000 + 5), "2026-11-23");
        assert_eq!(format_day(1_709_164_800_000), "2024-02-29");
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-11-23",
            "2026/11/23",
            "yesterday",
        ] {
            assert_eq!(parse_day(bad).expect_err(bad).0, "bad_date", "{bad}");
        }
    }

    #[test]
    fn ranges_include_the_to_day_and_refuse_inverted_or_long_ones() {
        let mon = 1_795_392_000_000;
        assert_eq!(
            parse_range(Some("2026-11-23"), Some("2026-11-23"), 0),
            Ok((mon, mon + DAY_MS))
        );
        assert_eq!(parse_range(None, None, mon), Ok((mon - 30 * DAY_MS, mon)));
        assert_eq!(parse_range(Some("5"), Some("10"), 0), Ok((5, 10)));
        let (code, msg) =
            parse_range(Some("2026-11-23"), Some("2026-11-01"), 0).expect_err("inverted");
        assert_eq!(code, "bad_range");
        assert!(msg.contains("inverted"), "{msg}");
        assert_eq!(
            parse_range(Some("2024-01-01"), Some("2026-01-01"), 0)
                .expect_err("long")
                .0,
            "bad_range"
        );
        assert_eq!(
            parse_range(Some("soon"), None, mon).expect_err("bad").0,
            "bad_date"
        );
    }

    #[test]
    fn group_by_and_weeks_are_checked() {
        assert_eq!(parse_group_by("channel"), Ok(GroupBy::Channel));
        assert_eq!(parse_group_by("ad").expect_err("ad").0, "bad_group_by");
        assert_eq!(parse_weeks("8"), Ok(8));
        assert_eq!(parse_weeks("0").expect_err("0").0, "bad_weeks");
        assert_eq!(parse_weeks("27").expect_err("27").0, "bad_weeks");
    }
}
