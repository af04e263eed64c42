//! Forwarding intent signals: record them in D1, queue one delivery per
//! webhook URL, and deliver from the queue consumer with an HMAC signature,
//! retries with exponential backoff, and a dead-letter queue at the end.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use touchline_shared::meta::{self, classify_graph, whatsapp_contact, Purchase};
use touchline_shared::rules::{default_rules, set_brand_terms, Rule};
use touchline_shared::signal::{backoff_seconds, classify, signed_payload, Delivery, Signal};
use touchline_shared::timeline::Stored;
use worker::{
    console_error, console_log, AbortSignal, Date, Env, Fetch, Headers, Message, MessageBatch,
    MessageExt, Method, QueueRetryOptionsBuilder, Request, RequestInit,
};

use crate::bindings;
use crate::config::optional_secret as var;

/// How long one webhook POST may take before it counts as failed, ms.
const WEBHOOK_TIMEOUT_MS: u32 = 10_000;
/// Default first retry delay, seconds.
const DEFAULT_RETRY_BASE_SECONDS: u32 = 30;

/// One queued delivery: a signal to one webhook URL, or as a WhatsApp
/// template to the person (`url` is then `whatsapp:<template>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryMsg {
    /// The signal.
    pub signal: Signal,
    /// Where to POST it (the ledger key with the signal id).
    pub url: String,
    /// For a template nudge: the Cloud API request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nudge: Option<Nudge>,
}

/// A WhatsApp template message to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Nudge {
    /// The business number to send from (Cloud API path).
    pub phone_number_id: String,
    /// The template's name.
    pub template: String,
    /// The request body (`type: template`) as JSON text: queue messages go
    /// through serde-wasm-bindgen, which would turn a `Value` into a JS Map.
    pub body: String,
}

/// A Conversions API event to send once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurchaseJob {
    /// Ledger key (`order-<id>:Purchase`).
    pub event_id: String,
    /// The request body as JSON text (see [`Nudge::body`]).
    pub body: String,
}

/// Everything the signals queue carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// A signal to a webhook or as a nudge.
    Deliver(Box<DeliveryMsg>),
    /// A purchase to Meta's Conversions API.
    Purchase(PurchaseJob),
}

/// A fired signal, with the nudge to send when its rule has a template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outgoing {
    /// The signal.
    pub signal: Signal,
    /// The nudge, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nudge: Option<Nudge>,
}

fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

/// A list-valued variable, given as a TOML array or a JSON string.
fn list_var<T: serde::de::DeserializeOwned>(env: &Env, name: &str) -> Option<Vec<T>> {
    match env.var(name) {
        Ok(text) => serde_json::from_str(&text.to_string())
            .map_err(|e| console_error!("{name} is not valid JSON: {e}"))
            .ok(),
        Err(_) => env.object_var(name).ok(),
    }
}

/// The configured rules (`RULES`, else the defaults), with `BRAND_TERMS` applied.
pub fn rules(env: &Env) -> Vec<Rule> {
    let mut rules = list_var::<Rule>(env, bindings::RULES).unwrap_or_else(default_rules);
    if let Ok(terms) = env.var(bindings::BRAND_TERMS) {
        let terms: Vec<String> = terms
            .to_string()
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        set_brand_terms(&mut rules, &terms);
    }
    rules
}

fn webhook_urls(env: &Env) -> Vec<String> {
    list_var::<String>(env, bindings::WEBHOOK_URLS).unwrap_or_default()
}

/// The nudge for a fired rule: only when the rule names a template, nudges
/// are switched on (`WHATSAPP_NUDGES = "on"`: the business has the person's
/// opt-in), and the profile has a WhatsApp contact.
pub fn nudge_for(
    env: &Env,
    rule: Option<&Rule>,
    timeline: &[Stored],
    signal_id: &str,
) -> Option<Nudge> {
    let template = rule?.template.as_deref()?;
    if var(env, bindings::WHATSAPP_NUDGES).as_deref() != Some("on") {
        return None;
    }
    let (to, from) = whatsapp_contact(timeline)?;
    let phone_number_id = from.or_else(|| var(env, bindings::WHATSAPP_PHONE_NUMBER_ID))?;
    let language = var(env, bindings::WHATSAPP_TEMPLATE_LANGUAGE).unwrap_or_else(|| "en".into());
    let body = meta::template_message(&to, template, &language, signal_id).to_string();
    Some(Nudge {
        phone_number_id,
        template: template.to_owned(),
        body,
    })
}

/// Records new signals and queues their deliveries (each webhook URL, and the
/// nudge). A signal id already recorded is skipped: emitting twice delivers once.
pub async fn emit(env: &Env, outgoing: &[Outgoing]) -> worker::Result<()> {
    if outgoing.is_empty() {
        return Ok(());
    }
    let db = env.d1(bindings::DB)?;
    let urls = webhook_urls(env);
    let queue = env.queue(bindings::SIGNALS)?;
    for Outgoing { signal: s, nudge } in outgoing {
        let body = serde_json::to_string(s)?;
        let inserted = db
            .prepare(
                "INSERT INTO signals (id, rule, profile_id, body, emitted_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO NOTHING RETURNING id",
            )
            .bind(&[
                s.id.as_str().into(),
                s.rule.as_str().into(),
                s.profile_id.as_str().into(),
                body.into(),
                (s.emitted_at as f64).into(),
            ])?
            .all()
            .await?
            .results::<serde_json::Value>()?;
        if inserted.is_empty() {
            continue;
        }
        console_log!("signal {} {} for {}", s.id, s.rule, s.profile_id);
        let mut deliveries: Vec<DeliveryMsg> = urls
            .iter()
            .map(|url| DeliveryMsg {
                signal: s.clone(),
                url: url.clone(),
                nudge: None,
            })
            .collect();
        if let Some(n) = nudge {
            deliveries.push(DeliveryMsg {
                signal: s.clone(),
                url: format!("whatsapp:{}", n.template),
                nudge: Some(n.clone()),
            });
        }
        for d in deliveries {
            let nudge_json = d.nudge.as_ref().map(serde_json::to_string).transpose()?;
            db.prepare(
                "INSERT INTO signal_deliveries (signal_id, url, updated_at, nudge) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )
            .bind(&[
                s.id.as_str().into(),
                d.url.as_str().into(),
                (now_ms() as f64).into(),
                nudge_json.map_or(wasm_bindgen::JsValue::NULL, Into::into),
            ])?
            .run()
            .await?;
            queue.send(Job::Deliver(Box::new(d))).await?;
        }
    }
    Ok(())
}

/// Records a purchase in the Conversions API ledger and queues it, once per
/// event id ever (Meta does not deduplicate these). Needs `META_DATASET_ID`
/// and `WHATSAPP_BUSINESS_ACCOUNT_ID`; without them nothing is reported.
pub async fn report_purchase(env: &Env, profile_id: &str, p: &Purchase) -> worker::Result<()> {
    let Some(waba) = var(env, bindings::WHATSAPP_BUSINESS_ACCOUNT_ID) else {
        return Ok(());
    };
    if var(env, bindings::META_DATASET_ID).is_none() {
        return Ok(());
    }
    let body = meta::purchase_request(p, &waba).to_string();
    let inserted = env
        .d1(bindings::DB)?
        .prepare(
            "INSERT INTO capi_events (event_id, profile_id, body, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        )
        .bind(&[
            p.event_id.as_str().into(),
            profile_id.into(),
            body.as_str().into(),
            (now_ms() as f64).into(),
        ])?
        .all()
        .await?
        .results::<serde_json::Value>()?;
    if !inserted.is_empty() {
        console_log!("reporting {} to the Conversions API", p.event_id);
        env.queue(bindings::SIGNALS)?
            .send(Job::Purchase(PurchaseJob {
                event_id: p.event_id.clone(),
                body,
            }))
            .await?;
    }
    Ok(())
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(signed_payload(timestamp, body).as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Which ledger row a job updates.
enum Ledger<'a> {
    Signal { id: &'a str, url: &'a str },
    Purchase { event_id: &'a str },
}

impl Job {
    fn ledger(&self) -> Ledger<'_> {
        match self {
            Job::Deliver(d) => Ledger::Signal {
                id: &d.signal.id,
                url: &d.url,
            },
            Job::Purchase(p) => Ledger::Purchase {
                event_id: &p.event_id,
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            Job::Deliver(d) => format!("signal {} to {}", d.signal.id, d.url),
            Job::Purchase(p) => format!("conversion {}", p.event_id),
        }
    }
}

impl Ledger<'_> {
    fn table_and_key(&self) -> (&'static str, &'static str, Vec<wasm_bindgen::JsValue>) {
        match self {
            Ledger::Signal { id, url } => (
                "signal_deliveries",
                "signal_id = ? AND url = ?",
                vec![(*id).into(), (*url).into()],
            ),
            Ledger::Purchase { event_id } => {
                ("capi_events", "event_id = ?", vec![(*event_id).into()])
            }
        }
    }
}

/// The Graph API base, e.g. `https://graph.facebook.com/v23.0` (configurable
/// so tests talk to a local fake).
fn graph_base(env: &Env) -> String {
    let url =
        var(env, bindings::META_GRAPH_URL).unwrap_or_else(|| "https://graph.facebook.com".into());
    let version = var(env, bindings::META_GRAPH_VERSION).unwrap_or_else(|| "v23.0".into());
    format!("{}/{version}", url.trim_end_matches('/'))
}

/// POSTs JSON; `Ok((status, body))` when the receiver answered.
async fn post_json(
    url: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Result<(u16, String), String> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(|e| e.to_string())?;
    }
    h.set("Content-Type", "application/json")
        .map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(h)
        .with_body(Some(body.into()));
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(WEBHOOK_TIMEOUT_MS));
    let mut resp = Fetch::Request(req)
        .send_with_signal(&signal)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status_code();
    Ok((status, resp.text().await.unwrap_or_default()))
}

/// Sends one job and classifies the answer.
async fn send(env: &Env, job: &Job) -> (Delivery, Option<u16>, Option<String>) {
    let token = var(env, bindings::WHATSAPP_TOKEN).unwrap_or_default();
    let bearer = format!("Bearer {token}");
    let result = match job {
        Job::Deliver(d) => match &d.nudge {
            None => {
                let body = serde_json::to_string(&d.signal).unwrap_or_default();
                let secret = var(env, bindings::WEBHOOK_SECRET).unwrap_or_default();
                let ts = now_ms() / 1000;
                let sig = signature(secret.as_bytes(), ts, &body);
                let ts = ts.to_string();
                let headers = [
                    ("User-Agent", "Touchline-Webhooks/1"),
                    ("Idempotency-Key", d.signal.id.as_str()),
                    ("X-Touchline-Timestamp", ts.as_str()),
                    ("X-Touchline-Signature", sig.as_str()),
                ];
                post_json(&d.url, &headers, body)
                    .await
                    .map(|(s, b)| (classify(Some(s)), s, b))
            }
            Some(n) => {
                let url = format!("{}/{}/messages", graph_base(env), n.phone_number_id);
                post_json(&url, &[("Authorization", &bearer)], n.body.clone())
                    .await
                    .map(|(s, b)| (classify_graph(Some(s), &b), s, b))
            }
        },
        Job::Purchase(p) => match var(env, bindings::META_DATASET_ID) {
            Some(dataset) => {
                let url = format!("{}/{dataset}/events", graph_base(env));
                post_json(&url, &[("Authorization", &bearer)], p.body.clone())
                    .await
                    .map(|(s, b)| (classify_graph(Some(s), &b), s, b))
            }
            None => Err("META_DATASET_ID is not configured".into()),
        },
    };
    match result {
        Ok((verdict, status, body)) => {
            let detail = (verdict != Delivery::Delivered).then(|| {
                let b: String = body.chars().take(200).collect();
                format!("HTTP {status}: {b}")
            });
            (verdict, Some(status), detail)
        }
        Err(e) => (classify(None), None, Some(e)),
    }
}

async fn record(
    env: &Env,
    ledger: &Ledger<'_>,
    status: &str,
    http: Option<u16>,
    error: Option<&str>,
) -> worker::Result<()> {
    let (table, key, key_values) = ledger.table_and_key();
    let mut values = vec![
        status.into(),
        http.map_or(wasm_bindgen::JsValue::NULL, |s| f64::from(s).into()),
        error.map_or(wasm_bindgen::JsValue::NULL, Into::into),
        (now_ms() as f64).into(),
    ];
    values.extend(key_values);
    env.d1(bindings::DB)?
        .prepare(format!(
            "UPDATE {table} SET status = ?, last_status = ?, last_error = ?, updated_at = ? \
             WHERE {key} AND status != 'delivered'"
        ))
        .bind(&values)?
        .run()
        .await?;
    Ok(())
}

#[derive(Deserialize)]
struct AttemptRow {
    attempts: i64,
    status: String,
}

/// Counts this attempt (workers-rs exposes no attempt number) and says
/// whether the job is still open.
async fn begin_attempt(env: &Env, ledger: &Ledger<'_>) -> worker::Result<Option<u32>> {
    let (table, key, key_values) = ledger.table_and_key();
    let mut values = vec![(now_ms() as f64).into()];
    values.extend(key_values);
    let rows = env
        .d1(bindings::DB)?
        .prepare(format!(
            "UPDATE {table} SET attempts = attempts + 1, updated_at = ? WHERE {key} RETURNING attempts, status"
        ))
        .bind(&values)?
        .all()
        .await?
        .results::<AttemptRow>()?;
    Ok(rows
        .into_iter()
        .next()
        .filter(|r| r.status == "pending")
        .map(|r| r.attempts.max(1) as u32))
}

async fn deliver(env: &Env, m: &Message<Job>) -> worker::Result<()> {
    let job = m.body();
    let ledger = job.ledger();
    let Some(attempt) = begin_attempt(env, &ledger).await? else {
        m.ack(); // delivered, failed or unknown already: nothing to do
        return Ok(());
    };
    let (verdict, status, error) = send(env, job).await;
    match verdict {
        Delivery::Delivered => {
            record(env, &ledger, "delivered", status, None).await?;
            m.ack();
        }
        Delivery::Refused => {
            console_error!("{} refused: {:?}", job.describe(), error);
            record(env, &ledger, "failed", status, error.as_deref()).await?;
            m.ack();
        }
        Delivery::Retry => {
            let error = error.unwrap_or_else(|| "no answer".into());
            record(env, &ledger, "pending", status, Some(&error)).await?;
            let base = var(env, bindings::RETRY_BASE_SECONDS)
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_RETRY_BASE_SECONDS);
            let delay = backoff_seconds(attempt, base);
            console_log!(
                "{}: attempt {attempt} failed ({error}); retry in {delay}s",
                job.describe()
            );
            m.retry_with_options(
                &QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(delay)
                    .build(),
            );
        }
    }
    Ok(())
}

/// The queue consumer. Never returns `Err` (that would reset the Worker):
/// a message that cannot be handled is retried, and ends in the DLQ.
pub async fn consume(batch: MessageBatch<Job>, env: Env) -> worker::Result<()> {
    let queue = batch.queue();
    let messages = match batch.messages() {
        Ok(m) => m,
        Err(e) => {
            console_error!("unreadable batch on {queue}: {e}");
            batch.retry_all();
            return Ok(());
        }
    };
    for m in messages {
        let handled = if queue == bindings::SIGNALS_DLQ {
            let r = record(
                &env,
                &m.body().ledger(),
                "failed",
                None,
                Some("gave up after the maximum attempts"),
            )
            .await;
            if r.is_ok() {
                console_error!("{} moved to the dead-letter queue", m.body().describe());
                m.ack();
            }
            r
        } else {
            deliver(&env, &m).await
        };
        if let Err(e) = handled {
            console_error!("signal delivery bookkeeping failed: {e}");
            m.retry();
        }
    }
    Ok(())
}

/// Default age after which a pending delivery counts as lost, seconds: more
/// than the longest backoff, so a message merely waiting is not doubled.
const DEFAULT_REDRIVE_AFTER_SECONDS: i64 = 15 * 60;

#[derive(Deserialize)]
struct Pending {
    url: String,
    body: String,
    nudge: Option<String>,
}

async fn requeue(env: &Env, rows: &[Pending]) -> worker::Result<()> {
    let queue = env.queue(bindings::SIGNALS)?;
    for r in rows {
        let signal: Signal = serde_json::from_str(&r.body)?;
        let nudge = r.nudge.as_deref().map(serde_json::from_str).transpose()?;
        console_log!("queueing signal {} to {} again", signal.id, r.url);
        queue
            .send(Job::Deliver(Box::new(DeliveryMsg {
                signal,
                url: r.url.clone(),
                nudge,
            })))
            .await?;
    }
    Ok(())
}

/// Re-queues pending deliveries untouched for `REDRIVE_AFTER_SECONDS`: a
/// queue message can be lost (e.g. a local broker restarting) while its D1
/// row says it is still pending. Run by the cron trigger. Returns how many.
pub async fn redrive(env: &Env) -> worker::Result<usize> {
    let after = var(env, bindings::REDRIVE_AFTER_SECONDS)
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(DEFAULT_REDRIVE_AFTER_SECONDS);
    let now = now_ms();
    let db = env.d1(bindings::DB)?;
    let lost = db
        .prepare(
            "UPDATE signal_deliveries SET updated_at = ?1 WHERE status = 'pending' AND updated_at <= ?2 \
             RETURNING url, nudge, (SELECT body FROM signals WHERE id = signal_id) AS body",
        )
        .bind(&[(now as f64).into(), ((now - after * 1000) as f64).into()])?
        .all()
        .await?
        .results::<Pending>()?;
    requeue(env, &lost).await?;
    #[derive(Deserialize)]
    struct LostPurchase {
        event_id: String,
        body: String,
    }
    let purchases = db
        .prepare(
            "UPDATE capi_events SET updated_at = ?1 WHERE status = 'pending' AND updated_at <= ?2 RETURNING event_id, body",
        )
        .bind(&[(now as f64).into(), ((now - after * 1000) as f64).into()])?
        .all()
        .await?
        .results::<LostPurchase>()?;
    let queue = env.queue(bindings::SIGNALS)?;
    for p in &purchases {
        let body = serde_json::from_str(&p.body)?;
        queue
            .send(Job::Purchase(PurchaseJob {
                event_id: p.event_id.clone(),
                body,
            }))
            .await?;
    }
    Ok(lost.len() + purchases.len())
}

/// Queues the failed deliveries of a signal again; returns how many.
pub async fn resend(env: &Env, signal_id: &str) -> worker::Result<Option<usize>> {
    let db = env.d1(bindings::DB)?;
    let known = db
        .prepare("SELECT id FROM signals WHERE id = ?1")
        .bind(&[signal_id.into()])?
        .all()
        .await?
        .results::<serde_json::Value>()?;
    if known.is_empty() {
        return Ok(None);
    }
    let rows = db
        .prepare(
            "UPDATE signal_deliveries SET status = 'pending', attempts = 0, updated_at = ?1 \
             WHERE signal_id = ?2 AND status = 'failed' \
             RETURNING url, nudge, (SELECT body FROM signals WHERE id = signal_id) AS body",
        )
        .bind(&[(now_ms() as f64).into(), signal_id.into()])?
        .all()
        .await?
        .results::<Pending>()?;
    requeue(env, &rows).await?;
    Ok(Some(rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: hmac.new(b"whsec_test", b'1700000000.{"id":"sig_1"}', sha256).
        assert_eq!(
            signature(b"whsec_test", 1_700_000_000, r#"{"id":"sig_1"}"#),
            "sha256=03b83228a5101e3e7c0b8337f00b1f58e20794d4520d97c2b7865b63c0fd4d3c"
        );
    }
}
