//! Parsing and validating a batch from `POST /v1/collect`.
//!
//! A batch is judged event by event: a malformed event is rejected with its
//! index and a reason that names the field, and the good ones are kept. Only a
//! body that is not a batch at all (too large, not JSON, wrong shape) fails whole.

use serde::Deserialize;

use crate::identity::IdentityKey;
use crate::limits::*;
use crate::schema::*;

/// The request body of `POST /v1/collect`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a batch: an object with `events` (an array) and optional `sent_at`"
)]
struct RawBatch {
    /// Client time when the batch was sent; used to correct client clocks.
    #[serde(default)]
    sent_at: Option<i64>,
    events: Vec<serde_json::Value>,
}

/// Why a whole body was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchError {
    /// Larger than [`MAX_BODY_BYTES`] (HTTP 413).
    TooLarge {
        /// Size of the body in bytes.
        size: usize,
    },
    /// Not JSON, or not of the batch's shape (HTTP 400).
    Malformed(String),
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::TooLarge { size } => {
                write!(f, "body is {size} bytes; the limit is {MAX_BODY_BYTES}")
            }
            BatchError::Malformed(m) => write!(f, "{m}"),
        }
    }
}

/// An event that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Its index in the batch.
    pub index: usize,
    /// The event as sent.
    pub event: Event,
    /// Event time on the collector's clock: `ts` corrected by the client's
    /// clock offset (`received_at - sent_at`) when that is beyond
    /// [`CLOCK_TOLERANCE_MS`], ms since the epoch.
    pub time: i64,
}

/// An event that failed validation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rejection {
    /// Its index in the batch.
    pub index: usize,
    /// What is wrong, starting with the field's path.
    pub reason: String,
}

/// The verdict on a batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Valid events, in batch order.
    pub accepted: Vec<Accepted>,
    /// Invalid events, in batch order.
    pub rejected: Vec<Rejection>,
}

/// Who sent a batch: it decides which kinds and URLs are acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A browser, through `POST /v1/collect`: web kinds only, http(s) URLs.
    Browser,
    /// A server holding the events key, through `POST /v1/events`: every kind.
    Server,
}

/// Parses and validates a browser batch received at `now_ms` (collector time).
pub fn validate_batch(body: &[u8], now_ms: i64) -> Result<Outcome, BatchError> {
    validate_batch_from(body, now_ms, Source::Browser)
}

/// Parses and validates a batch from `source` received at `now_ms`.
pub fn validate_batch_from(
    body: &[u8],
    now_ms: i64,
    source: Source,
) -> Result<Outcome, BatchError> {
    let raw = parse_raw(body)?;
    Ok(judge(raw, now_ms, source, |_, v| Ok(v)))
}

fn parse_raw(body: &[u8]) -> Result<RawBatch, BatchError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BatchError::TooLarge { size: body.len() });
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let raw: RawBatch = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        BatchError::Malformed(if path == "." {
            format!("body is not a batch: {inner}")
        } else {
            format!("body is not a batch: {path}: {inner}")
        })
    })?;
    Ok(raw)
}

/// How far the client's clock is behind the collector's, ms; an offset
/// within [`CLOCK_TOLERANCE_MS`] is transit time and counts as none, so the
/// events of one browser keep the order of its own clock.
fn clock_offset(now_ms: i64, sent_at: i64) -> i64 {
    let offset = now_ms.saturating_sub(sent_at);
    if offset.saturating_abs() <= CLOCK_TOLERANCE_MS {
        0
    } else {
        offset
    }
}

/// Judges each event; `prepare` may rewrite an event's JSON first (the server
/// path takes its `person` out and fills envelope defaults).
fn judge(
    raw: RawBatch,
    now_ms: i64,
    source: Source,
    mut prepare: impl FnMut(usize, serde_json::Value) -> Result<serde_json::Value, String>,
) -> Outcome {
    // Without `sent_at` the client's clock is taken as right.
    let sent_at = raw.sent_at.unwrap_or(now_ms);
    let offset = clock_offset(now_ms, sent_at);
    let mut out = Outcome::default();
    for (index, value) in raw.events.into_iter().enumerate() {
        let verdict = if index >= MAX_EVENTS_PER_BATCH {
            Err(format!(
                "batch holds more than {MAX_EVENTS_PER_BATCH} events; send the rest in another batch"
            ))
        } else {
            prepare(index, value)
                .and_then(parse_event)
                .and_then(|event| check_event(&event, sent_at, source).map(|()| event))
        };
        match verdict {
            Ok(event) => {
                let time = event.ts.saturating_add(offset);
                out.accepted.push(Accepted { index, event, time });
            }
            Err(reason) => out.rejected.push(Rejection { index, reason }),
        }
    }
    out
}

fn parse_event(value: serde_json::Value) -> Result<Event, String> {
    de_at::<Event>("", value.clone()).map_err(|reason| {
        if reason.starts_with("data:") {
            data_error(&value["data"]).unwrap_or(reason)
        } else {
            reason
        }
    })
}

/// Deserialises `value`; an error names the field's path below `prefix`.
fn de_at<T: serde::de::DeserializeOwned>(
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match (prefix.is_empty(), path == ".") {
            (true, true) => inner.to_string(),
            (true, false) => format!("{path}: {inner}"),
            (false, true) => format!("{prefix}: {inner}"),
            (false, false) => format!("{prefix}.{path}: {inner}"),
        }
    })
}

/// serde buffers an internally tagged enum, which loses the field's path; on
/// error, parse `data` again as its kind's own struct to name the field.
fn data_error(data: &serde_json::Value) -> Option<String> {
    let mut rest = data.as_object()?.clone();
    let kind = rest.remove("kind")?;
    let rest = serde_json::Value::Object(rest);
    fn err<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Option<String> {
        de_at::<T>("data", v).err()
    }
    match kind.as_str()? {
        "page_view" => err::<PageView>(rest),
        "product_view" => err::<ProductView>(rest),
        "scroll" => err::<Scroll>(rest),
        "engagement" => err::<Engagement>(rest),
        "pricing_view" => err::<PricingView>(rest),
        "checkout_step" => err::<CheckoutStep>(rest),
        "order" => err::<Order>(rest),
        "whatsapp_click" => err::<WhatsappClick>(rest),
        "search" => err::<Search>(rest),
        "identify" => err::<Identify>(rest),
        "custom" => err::<Custom>(rest),
        "whatsapp_inbound" => err::<WhatsappInbound>(rest),
        "order_status" => err::<OrderStatus>(rest),
        "crm_stage" => err::<CrmStage>(rest),
        "instagram" => err::<Instagram>(rest),
        "paid_search" => err::<PaidSearch>(rest),
        "instagram_inbound" => err::<InstagramInbound>(rest),
        _ => None,
    }
}

type Check = Result<(), String>;

fn fail(path: &str, reason: impl std::fmt::Display) -> Check {
    Err(format!("{path}: {reason}"))
}

/// Checks an id (site, visitor, session, event): 1 to `MAX_ID_LEN` of `[A-Za-z0-9_.-]`.
pub fn id(path: &str, v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > MAX_ID_LEN {
        return fail(path, format_args!("must be 1 to {MAX_ID_LEN} characters"));
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return fail(path, "may hold only A-Z, a-z, 0-9, '_', '.', '-'");
    }
    Ok(())
}

fn text(path: &str, v: &str, max: usize) -> Check {
    if v.len() > max {
        return fail(
            path,
            format_args!("is {} bytes; the limit is {max}", v.len()),
        );
    }
    if v.chars().any(char::is_control) {
        return fail(path, "holds control characters");
    }
    Ok(())
}

fn non_empty_text(path: &str, v: &str, max: usize) -> Check {
    if v.trim().is_empty() {
        return fail(path, "must not be empty");
    }
    text(path, v, max)
}

fn slug(path: &str, v: &str) -> Check {
    if v.is_empty() || v.len() > MAX_SLUG_LEN {
        return fail(path, format_args!("must be 1 to {MAX_SLUG_LEN} characters"));
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return fail(path, "may hold only a-z, 0-9, '_', '-'");
    }
    Ok(())
}

fn url(path: &str, v: &str, web_only: bool) -> Check {
    text(path, v, MAX_URL_LEN)?;
    let scheme_ok = if web_only {
        v.starts_with("https://") || v.starts_with("http://")
    } else {
        v.contains(':')
    };
    if !scheme_ok {
        return fail(
            path,
            if web_only {
                "must be an absolute http(s) URL"
            } else {
                "must be an absolute URL"
            },
        );
    }
    Ok(())
}

fn money(path: &str, v: f64) -> Check {
    if !v.is_finite() || !(0.0..=MAX_ORDER_VALUE).contains(&v) {
        return fail(
            path,
            format_args!("must be between 0 and {MAX_ORDER_VALUE}"),
        );
    }
    Ok(())
}

fn currency(path: &str, v: &str) -> Check {
    if v.len() != 3 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
        return fail(path, "must be an ISO 4217 code such as INR");
    }
    Ok(())
}

fn sha256_hex(path: &str, v: &str) -> Check {
    if v.len() != 64
        || !v
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return fail(
            path,
            "must be a SHA-256 digest in lowercase hex (64 characters)",
        );
    }
    Ok(())
}

fn opt<T: ?Sized>(v: Option<&T>, f: impl FnOnce(&T) -> Check) -> Check {
    v.map_or(Ok(()), f)
}

/// Checks what the types cannot: limits, formats and times.
fn check_event(e: &Event, sent_at: i64, source: Source) -> Check {
    if e.schema != SCHEMA_VERSION {
        return fail(
            "schema",
            format_args!(
                "version {} is not supported; this collector speaks {SCHEMA_VERSION}",
                e.schema
            ),
        );
    }
    if source == Source::Browser && e.data.server_only() {
        return fail(
            "data.kind",
            format_args!(
                "`{}` is accepted only from servers, on POST /v1/events",
                e.data.kind()
            ),
        );
    }
    id("site_id", &e.site_id)?;
    id("visitor_id", &e.visitor_id)?;
    id("session_id", &e.session_id)?;
    id("event_id", &e.event_id)?;
    if e.ts > sent_at.saturating_add(MAX_FUTURE_SKEW_MS) {
        return fail("ts", "lies after the batch was sent");
    }
    if e.ts < sent_at.saturating_sub(MAX_EVENT_AGE_MS) {
        return fail("ts", "is more than 7 days before the batch was sent");
    }
    url("url", &e.url, source == Source::Browser)?;
    opt(e.referrer.as_deref(), |r| url("referrer", r, false))?;
    check_data(&e.data)
}

fn check_data(d: &EventData) -> Check {
    match d {
        EventData::PageView(PageView { title, attribution }) => {
            opt(title.as_deref(), |t| text("data.title", t, MAX_TEXT_LEN))?;
            let a = attribution;
            for (name, v) in [
                ("utm_source", &a.utm_source),
                ("utm_medium", &a.utm_medium),
                ("utm_campaign", &a.utm_campaign),
                ("utm_term", &a.utm_term),
                ("utm_content", &a.utm_content),
                ("gclid", &a.gclid),
                ("fbclid", &a.fbclid),
                ("ctwa_clid", &a.ctwa_clid),
                ("igshid", &a.igshid),
            ] {
                opt(v.as_deref(), |v| {
                    text(&format!("data.attribution.{name}"), v, MAX_TEXT_LEN)
                })?;
            }
            Ok(())
        }
        EventData::ProductView(ProductView {
            sku,
            name,
            price,
            currency: cur,
            distinct_in_session,
        }) => {
            non_empty_text("data.sku", sku, MAX_ID_LEN)?;
            if *distinct_in_session == Some(0) {
                return fail("data.distinct_in_session", "must count this product (>= 1)");
            }
            opt(name.as_deref(), |n| text("data.name", n, MAX_TEXT_LEN))?;
            opt(price.as_ref(), |p| money("data.price", *p))?;
            opt(cur.as_deref(), |c| currency("data.currency", c))
        }
        EventData::Scroll(Scroll {
            depth_pct,
            milestone,
            container,
        }) => {
            if *depth_pct > 100 {
                return fail("data.depth_pct", "must be 0 to 100");
            }
            if let Some(m) = milestone {
                if ![25, 50, 75, 90, 100].contains(m) || m > depth_pct {
                    return fail(
                        "data.milestone",
                        "must be one of 25, 50, 75, 90, 100 and reached",
                    );
                }
            }
            opt(container.as_deref(), |c| {
                non_empty_text("data.container", c, MAX_SLUG_LEN)
            })
        }
        EventData::Engagement(Engagement {
            engaged_ms,
            total_ms,
        }) => {
            const DAY_MS: u32 = 24 * 60 * 60 * 1000;
            if *total_ms > DAY_MS {
                return fail("data.total_ms", "is more than a day");
            }
            if engaged_ms > total_ms {
                return fail("data.engaged_ms", "is more than total_ms");
            }
            Ok(())
        }
        EventData::PricingView(PricingView { count_7d }) => {
            if *count_7d == 0 {
                return fail("data.count_7d", "must count this view (>= 1)");
            }
            Ok(())
        }
        EventData::CheckoutStep(CheckoutStep { step }) => slug("data.step", step),
        EventData::Order(Order {
            order_id,
            value,
            currency: cur,
            payment_method,
        }) => {
            non_empty_text("data.order_id", order_id, MAX_ID_LEN)?;
            money("data.value", *value)?;
            currency("data.currency", cur)?;
            opt(payment_method.as_deref(), |p| {
                slug("data.payment_method", p)
            })
        }
        EventData::WhatsappClick(WhatsappClick { target, reference }) => {
            url("data.target", target, false)?;
            opt(reference.as_deref(), |r| id("data.reference", r))
        }
        EventData::Search(Search { query }) => non_empty_text("data.query", query, MAX_TEXT_LEN),
        EventData::Identify(Identify {
            email_sha256,
            phone_sha256,
        }) => {
            if email_sha256.is_none() && phone_sha256.is_none() {
                return fail("data", "identify needs email_sha256 or phone_sha256");
            }
            opt(email_sha256.as_deref(), |h| {
                sha256_hex("data.email_sha256", h)
            })?;
            opt(phone_sha256.as_deref(), |h| {
                sha256_hex("data.phone_sha256", h)
            })
        }
        EventData::Custom(Custom { name, props }) => {
            slug("data.name", name)?;
            if props.len() > MAX_CUSTOM_PROPS {
                return fail(
                    "data.props",
                    format_args!("has more than {MAX_CUSTOM_PROPS} entries"),
                );
            }
            for (k, v) in props {
                slug(&format!("data.props.{k}"), k)?;
                if let Scalar::Text(t) = v {
                    text(&format!("data.props.{k}"), t, MAX_TEXT_LEN)?;
                }
            }
            Ok(())
        }
        EventData::WhatsappInbound(w) => check_whatsapp_inbound(w),
        EventData::InstagramInbound(i) => check_instagram_inbound(i),
        EventData::OrderStatus(OrderStatus {
            order_id,
            status,
            value,
            currency: cur,
            payment_method,
        }) => {
            non_empty_text("data.order_id", order_id, MAX_ID_LEN)?;
            slug("data.status", status)?;
            opt(value.as_ref(), |v| money("data.value", *v))?;
            opt(cur.as_deref(), |c| currency("data.currency", c))?;
            opt(payment_method.as_deref(), |p| {
                slug("data.payment_method", p)
            })
        }
        EventData::CrmStage(CrmStage { stage, pipeline }) => {
            slug("data.stage", stage)?;
            opt(pipeline.as_deref(), |p| slug("data.pipeline", p))
        }
        EventData::Instagram(Instagram {
            action,
            media_id,
            ad_id,
            campaign,
            text: t,
        }) => {
            slug("data.action", action)?;
            opt(media_id.as_deref(), |v| {
                non_empty_text("data.media_id", v, MAX_ID_LEN)
            })?;
            opt(ad_id.as_deref(), |v| {
                non_empty_text("data.ad_id", v, MAX_ID_LEN)
            })?;
            opt(campaign.as_deref(), |v| {
                text("data.campaign", v, MAX_TEXT_LEN)
            })?;
            opt(t.as_deref(), |v| message_text("data.text", v))
        }
        EventData::PaidSearch(PaidSearch {
            term,
            engine,
            campaign,
            click_id,
        }) => {
            non_empty_text("data.term", term, MAX_TEXT_LEN)?;
            opt(engine.as_deref(), |v| slug("data.engine", v))?;
            opt(campaign.as_deref(), |v| {
                text("data.campaign", v, MAX_TEXT_LEN)
            })?;
            opt(click_id.as_deref(), |v| {
                text("data.click_id", v, MAX_TEXT_LEN)
            })
        }
    }
}

/// Message text: newlines and tabs are part of a chat message; other control
/// characters are not.
fn message_text(path: &str, v: &str) -> Check {
    if v.len() > MAX_MESSAGE_TEXT_LEN {
        return fail(
            path,
            format_args!("is {} bytes; the limit is {MAX_MESSAGE_TEXT_LEN}", v.len()),
        );
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return fail(path, "holds control characters");
    }
    Ok(())
}

fn check_whatsapp_inbound(w: &WhatsappInbound) -> Check {
    non_empty_text("data.message_id", &w.message_id, MAX_WAMID_LEN)?;
    crate::identity::check_wa_id(&w.wa).or_else(|e| fail("data.wa", e))?;
    opt(w.wa_id.as_deref(), |v| {
        crate::identity::check_wa_id(v).or_else(|e| fail("data.wa_id", e))
    })?;
    opt(w.user_id.as_deref(), |v| {
        crate::identity::check_wa_id(v).or_else(|e| fail("data.user_id", e))
    })?;
    opt(w.profile_name.as_deref(), |v| {
        text("data.profile_name", v, MAX_TEXT_LEN)
    })?;
    if !["text", "button", "interactive", "other"].contains(&w.message_type.as_str()) {
        return fail(
            "data.message_type",
            "must be text, button, interactive or other",
        );
    }
    opt(w.original_type.as_deref(), |v| {
        slug("data.original_type", v)
    })?;
    opt(w.text.as_deref(), |v| message_text("data.text", v))?;
    opt(w.phone_number_id.as_deref(), |v| {
        id("data.phone_number_id", v)
    })?;
    if let Some(r) = &w.referral {
        non_empty_text("data.referral.source_id", &r.source_id, MAX_TEXT_LEN)?;
        opt(r.source_type.as_deref(), |v| {
            text("data.referral.source_type", v, MAX_SLUG_LEN)
        })?;
        opt(r.source_url.as_deref(), |v| {
            url("data.referral.source_url", v, false)
        })?;
        for (name, v) in [
            ("headline", &r.headline),
            ("body", &r.body),
            ("media_type", &r.media_type),
            ("ctwa_clid", &r.ctwa_clid),
        ] {
            opt(v.as_deref(), |v| {
                message_text(&format!("data.referral.{name}"), v)
            })?;
        }
    }
    Ok(())
}

fn check_instagram_inbound(i: &InstagramInbound) -> Check {
    opt(i.message_id.as_deref(), |v| {
        non_empty_text("data.message_id", v, MAX_IG_MID_LEN)
    })?;
    crate::identity::check_igsid(&i.igsid).or_else(|e| fail("data.igsid", e))?;
    opt(i.account_id.as_deref(), |v| id("data.account_id", v))?;
    const TYPES: [&str; 6] = [
        "text",
        "attachment",
        "story_reply",
        "postback",
        "referral",
        "other",
    ];
    if !TYPES.contains(&i.message_type.as_str()) {
        return fail(
            "data.message_type",
            "must be text, attachment, story_reply, postback, referral or other",
        );
    }
    if i.message_id.is_none() && i.message_type != "referral" {
        return fail(
            "data.message_id",
            "is required unless message_type is referral",
        );
    }
    opt(i.original_type.as_deref(), |v| {
        slug("data.original_type", v)
    })?;
    opt(i.text.as_deref(), |v| message_text("data.text", v))?;
    opt(i.story_id.as_deref(), |v| id("data.story_id", v))?;
    if let Some(r) = &i.referral {
        if r.ad_id.is_none() && r.reference.is_none() {
            return fail("data.referral", "needs ad_id or ref");
        }
        opt(r.ad_id.as_deref(), |v| id("data.referral.ad_id", v))?;
        opt(r.reference.as_deref(), |v| {
            non_empty_text("data.referral.ref", v, MAX_TEXT_LEN)
        })?;
        for (name, v) in [("source", &r.source), ("type", &r.referral_type)] {
            opt(v.as_deref(), |v| {
                text(&format!("data.referral.{name}"), v, MAX_SLUG_LEN)
            })?;
        }
        opt(r.ad_title.as_deref(), |v| {
            text("data.referral.ad_title", v, MAX_TEXT_LEN)
        })?;
        opt(r.media_url.as_deref(), |v| {
            url("data.referral.media_url", v, false)
        })?;
    }
    Ok(())
}

/// How a server-side event names its person (`person` on each event of
/// `POST /v1/events`). Raw phones and emails are hashed on arrival and never
/// stored; any one field is enough.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// A browser's visitor id.
    #[serde(default)]
    pub visitor_id: Option<String>,
    /// A WhatsApp wa_id (phone digits).
    #[serde(default)]
    pub wa_id: Option<String>,
    /// A WhatsApp business-scoped user id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// A phone number with country code, in any punctuation.
    #[serde(default)]
    pub phone: Option<String>,
    /// SHA-256 of the normalised phone.
    #[serde(default)]
    pub phone_sha256: Option<String>,
    /// An email address.
    #[serde(default)]
    pub email: Option<String>,
    /// SHA-256 of the normalised email.
    #[serde(default)]
    pub email_sha256: Option<String>,
    /// A shop order id placed earlier.
    #[serde(default)]
    pub order_id: Option<String>,
    /// An Instagram-scoped user id (IGSID), as in Instagram exports and
    /// Direct conversations.
    #[serde(default)]
    pub igsid: Option<String>,
}

impl Person {
    /// The identity keys it names, or why a field is unusable.
    pub fn keys(&self) -> Result<Vec<IdentityKey>, String> {
        let mut keys = Vec::new();
        if let Some(v) = &self.visitor_id {
            id("person.visitor_id", v)?;
            keys.push(IdentityKey::Visitor(v.clone()));
        }
        if let Some(w) = &self.wa_id {
            if crate::identity::normalize_phone(w).is_none() {
                return Err("person.wa_id: must be the digits of a WhatsApp number".into());
            }
        }
        if let Some(u) = &self.user_id {
            crate::identity::check_wa_id(u).or_else(|e| fail("person.user_id", e))?;
        }
        keys.extend(crate::identity::whatsapp_keys(
            self.user_id.as_deref(),
            self.wa_id.as_deref(),
        ));
        if let Some(p) = &self.phone {
            keys.push(crate::identity::phone_key(p).ok_or_else(|| {
                "person.phone: must be a phone number with its country code".to_string()
            })?);
        }
        if let Some(h) = &self.phone_sha256 {
            sha256_hex("person.phone_sha256", h)?;
            keys.push(IdentityKey::Phone(h.clone()));
        }
        if let Some(e) = &self.email {
            keys.push(
                crate::identity::email_key(e)
                    .ok_or_else(|| "person.email: must be an email address".to_string())?,
            );
        }
        if let Some(h) = &self.email_sha256 {
            sha256_hex("person.email_sha256", h)?;
            keys.push(IdentityKey::Email(h.clone()));
        }
        if let Some(o) = &self.order_id {
            id("person.order_id", o)?;
            keys.push(IdentityKey::Order(o.clone()));
        }
        if let Some(i) = &self.igsid {
            crate::identity::check_igsid(i).or_else(|e| fail("person.igsid", e))?;
            keys.push(IdentityKey::Instagram(i.clone()));
        }
        Ok(keys)
    }
}

/// Envelope defaults for server-side events, which have no page or session.
pub const SERVER_SESSION_ID: &str = "server";
/// Visitor id of a server-side event that names its person another way.
pub const SERVER_VISITOR_ID: &str = "server";
/// URL of a server-side event that names no page.
pub const SERVER_URL: &str = "urn:touchline:server";

/// A valid server-side event and the identities it names.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerAccepted {
    /// The event, with envelope defaults filled in.
    pub accepted: Accepted,
    /// Identities from `person` and from the envelope's `visitor_id`.
    pub keys: Vec<IdentityKey>,
}

/// The verdict on a server-side batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerOutcome {
    /// Valid events, in batch order.
    pub accepted: Vec<ServerAccepted>,
    /// Invalid events, in batch order.
    pub rejected: Vec<Rejection>,
}

/// Parses and validates a `POST /v1/events` batch received at `now_ms`: the
/// same schema and checks as `/v1/collect`, every kind allowed, plus `person`.
/// `session_id`, `seq` and `url` may be left out; `visitor_id` too when
/// `person` names someone.
pub fn validate_server_batch(body: &[u8], now_ms: i64) -> Result<ServerOutcome, BatchError> {
    let raw = parse_raw(body)?;
    let mut persons: std::collections::BTreeMap<usize, Vec<IdentityKey>> = Default::default();
    let outcome = judge(raw, now_ms, Source::Server, |index, mut v| {
        let obj = v
            .as_object_mut()
            .ok_or_else(|| "invalid type: expected an event object".to_string())?;
        let person: Person = match obj.remove("person") {
            None => Person::default(),
            Some(p) => de_at("person", p)?,
        };
        let mut keys = person.keys()?;
        match obj.get("visitor_id").and_then(|v| v.as_str()) {
            Some(v) => {
                id("visitor_id", v)?;
                keys.insert(0, IdentityKey::Visitor(v.to_owned()));
            }
            None => {
                let vid = person
                    .visitor_id
                    .clone()
                    .unwrap_or_else(|| SERVER_VISITOR_ID.to_owned());
                obj.insert("visitor_id".into(), vid.into());
            }
        }
        keys.dedup();
        if keys.is_empty() {
            return Err(
                "person: name the person by visitor_id, or person.wa_id, user_id, \
                        phone, phone_sha256, email, email_sha256, order_id or igsid"
                    .into(),
            );
        }
        if keys.len() > MAX_IDENTITIES_PER_LINK {
            return Err(format!(
                "person: names more than {MAX_IDENTITIES_PER_LINK} identities"
            ));
        }
        obj.entry("session_id").or_insert(SERVER_SESSION_ID.into());
        obj.entry("seq").or_insert(0.into());
        obj.entry("url").or_insert(SERVER_URL.into());
        persons.insert(index, keys);
        Ok(v)
    });
    Ok(ServerOutcome {
        accepted: outcome
            .accepted
            .into_iter()
            .map(|a| ServerAccepted {
                keys: persons.remove(&a.index).unwrap_or_default(),
                accepted: a,
            })
            .collect(),
        rejected: outcome.rejected,
    })
}
