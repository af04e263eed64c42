//! Forwarding intent signals: record them in D1, queue one delivery per
//! webhook URL, and deliver from the queue consumer with an HMAC signature,
//! retries with exponential backoff, and a dead-letter queue at the end.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use touchline_shared::rules::{default_rules, set_brand_terms, Rule};
use touchline_shared::signal::{backoff_seconds, classify, signed_payload, Delivery, Signal};
use worker::{
    console_error, console_log, AbortSignal, Date, Env, Fetch, Headers, Message, MessageBatch,
    MessageExt, Method, QueueRetryOptionsBuilder, Request, RequestInit,
};

use crate::bindings;

/// How long one webhook POST may take before it counts as failed, ms.
const WEBHOOK_TIMEOUT_MS: u32 = 10_000;
/// Default first retry delay, seconds.
const DEFAULT_RETRY_BASE_SECONDS: u32 = 30;

/// One queued delivery: a signal to one URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryMsg {
    /// The signal.
    pub signal: Signal,
    /// Where to POST it.
    pub url: String,
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

/// Records new signals and queues their deliveries. A signal id already
/// recorded is skipped, so emitting twice delivers once.
pub async fn emit(env: &Env, signals: &[Signal]) -> worker::Result<()> {
    if signals.is_empty() {
        return Ok(());
    }
    let db = env.d1(bindings::DB)?;
    let urls = webhook_urls(env);
    let queue = env.queue(bindings::SIGNALS)?;
    for s in signals {
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
        for url in &urls {
            db.prepare("INSERT INTO signal_deliveries (signal_id, url, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
                .bind(&[s.id.as_str().into(), url.as_str().into(), (now_ms() as f64).into()])?
                .run()
                .await?;
            queue
                .send(DeliveryMsg {
                    signal: s.clone(),
                    url: url.clone(),
                })
                .await?;
        }
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

/// POSTs one signal; `Ok(status)` when the receiver answered.
async fn post(env: &Env, msg: &DeliveryMsg) -> Result<u16, String> {
    let body = serde_json::to_string(&msg.signal).map_err(|e| e.to_string())?;
    let secret = env
        .var(bindings::WEBHOOK_SECRET)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let ts = now_ms() / 1000;
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("Content-Type", "application/json")?;
    set("User-Agent", "Touchline-Webhooks/1")?;
    set("Idempotency-Key", &msg.signal.id)?;
    set("X-Touchline-Timestamp", &ts.to_string())?;
    set(
        "X-Touchline-Signature",
        &signature(secret.as_bytes(), ts, &body),
    )?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let req = Request::new_with_init(&msg.url, &init).map_err(|e| e.to_string())?;
    let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(WEBHOOK_TIMEOUT_MS));
    let resp = Fetch::Request(req)
        .send_with_signal(&signal)
        .await
        .map_err(|e| e.to_string())?;
    Ok(resp.status_code())
}

async fn record(
    env: &Env,
    msg: &DeliveryMsg,
    status: &str,
    http: Option<u16>,
    error: Option<&str>,
) -> worker::Result<()> {
    env.d1(bindings::DB)?
        .prepare(
            "UPDATE signal_deliveries SET status = ?1, last_status = ?2, last_error = ?3, updated_at = ?4 \
             WHERE signal_id = ?5 AND url = ?6 AND status != 'delivered'",
        )
        .bind(&[
            status.into(),
            http.map_or(wasm_bindgen::JsValue::NULL, |s| f64::from(s).into()),
            error.map_or(wasm_bindgen::JsValue::NULL, Into::into),
            (now_ms() as f64).into(),
            msg.signal.id.as_str().into(),
            msg.url.as_str().into(),
        ])?
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
/// whether the delivery is still open.
async fn begin_attempt(env: &Env, msg: &DeliveryMsg) -> worker::Result<Option<u32>> {
    let rows = env
        .d1(bindings::DB)?
        .prepare(
            "UPDATE signal_deliveries SET attempts = attempts + 1, updated_at = ?1 \
             WHERE signal_id = ?2 AND url = ?3 RETURNING attempts, status",
        )
        .bind(&[
            (now_ms() as f64).into(),
            msg.signal.id.as_str().into(),
            msg.url.as_str().into(),
        ])?
        .all()
        .await?
        .results::<AttemptRow>()?;
    Ok(rows
        .into_iter()
        .next()
        .filter(|r| r.status == "pending")
        .map(|r| r.attempts.max(1) as u32))
}

async fn deliver(env: &Env, m: &Message<DeliveryMsg>) -> worker::Result<()> {
    let msg = m.body();
    let Some(attempt) = begin_attempt(env, msg).await? else {
        m.ack(); // delivered, failed or unknown already: nothing to do
        return Ok(());
    };
    let result = post(env, msg).await;
    let status = result.as_ref().ok().copied();
    match classify(status) {
        Delivery::Delivered => {
            record(env, msg, "delivered", status, None).await?;
            m.ack();
        }
        Delivery::Refused => {
            console_error!(
                "signal {} refused by {} with {:?}",
                msg.signal.id,
                msg.url,
                status
            );
            record(
                env,
                msg,
                "failed",
                status,
                Some("refused by the receiver (4xx)"),
            )
            .await?;
            m.ack();
        }
        Delivery::Retry => {
            let error = result
                .err()
                .unwrap_or_else(|| format!("HTTP {}", status.unwrap_or(0)));
            record(env, msg, "pending", status, Some(&error)).await?;
            let base = env
                .var(bindings::RETRY_BASE_SECONDS)
                .ok()
                .and_then(|v| v.to_string().parse().ok())
                .unwrap_or(DEFAULT_RETRY_BASE_SECONDS);
            let delay = backoff_seconds(attempt, base);
            console_log!(
                "signal {} to {}: attempt {attempt} failed ({error}); retry in {delay}s",
                msg.signal.id,
                msg.url
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
pub async fn consume(batch: MessageBatch<DeliveryMsg>, env: Env) -> worker::Result<()> {
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
                m.body(),
                "failed",
                None,
                Some("gave up after the maximum attempts"),
            )
            .await;
            if r.is_ok() {
                console_error!(
                    "signal {} to {} moved to the dead-letter queue",
                    m.body().signal.id,
                    m.body().url
                );
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

/// Re-queues pending deliveries untouched for `REDRIVE_AFTER_SECONDS`: a
/// queue message can be lost (e.g. a local broker restarting) while its D1
/// row says it is still pending. Run by the cron trigger. Returns how many.
pub async fn redrive(env: &Env) -> worker::Result<usize> {
    let after = env
        .var(bindings::REDRIVE_AFTER_SECONDS)
        .ok()
        .and_then(|v| v.to_string().parse::<i64>().ok())
        .unwrap_or(DEFAULT_REDRIVE_AFTER_SECONDS);
    let now = now_ms();
    #[derive(Deserialize)]
    struct Lost {
        url: String,
        body: String,
    }
    let lost = env
        .d1(bindings::DB)?
        .prepare(
            "UPDATE signal_deliveries SET updated_at = ?1 \
             WHERE status = 'pending' AND updated_at <= ?2 \
             RETURNING url, (SELECT body FROM signals WHERE id = signal_id) AS body",
        )
        .bind(&[(now as f64).into(), ((now - after * 1000) as f64).into()])?
        .all()
        .await?
        .results::<Lost>()?;
    let queue = env.queue(bindings::SIGNALS)?;
    for l in &lost {
        let signal: Signal = serde_json::from_str(&l.body)?;
        console_log!("re-queueing signal {} to {}", signal.id, l.url);
        queue
            .send(DeliveryMsg {
                signal,
                url: l.url.clone(),
            })
            .await?;
    }
    Ok(lost.len())
}

/// Queues the failed deliveries of a signal again; returns how many.
pub async fn resend(env: &Env, signal_id: &str) -> worker::Result<Option<usize>> {
    let db = env.d1(bindings::DB)?;
    #[derive(Deserialize)]
    struct Row {
        body: String,
    }
    let Some(row) = db
        .prepare("SELECT body FROM signals WHERE id = ?1")
        .bind(&[signal_id.into()])?
        .first::<Row>(None)
        .await?
    else {
        return Ok(None);
    };
    let signal: Signal = serde_json::from_str(&row.body)?;
    #[derive(Deserialize)]
    struct Url {
        url: String,
    }
    let urls = db
        .prepare(
            "UPDATE signal_deliveries SET status = 'pending', attempts = 0, updated_at = ?1 \
             WHERE signal_id = ?2 AND status = 'failed' RETURNING url",
        )
        .bind(&[(now_ms() as f64).into(), signal_id.into()])?
        .all()
        .await?
        .results::<Url>()?;
    let queue = env.queue(bindings::SIGNALS)?;
    for u in &urls {
        queue
            .send(DeliveryMsg {
                signal: signal.clone(),
                url: u.url.clone(),
            })
            .await?;
    }
    Ok(Some(urls.len()))
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
