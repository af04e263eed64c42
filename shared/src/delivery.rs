//! Delivery decisions: how events are packed into bodies, what a response
//! means, when to try again, and what the bounded offline queue keeps.
//! Event ids make a retry harmless: the collector stores each id once.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::limits::{MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH};

/// Room for `{"sent_at":…,"events":[]}` around the events.
const ENVELOPE_BYTES: usize = 48;
/// Most events kept in the retry queue.
pub const MAX_QUEUED_EVENTS: usize = 200;
/// Most bytes of event JSON kept in the retry queue.
pub const MAX_QUEUED_BYTES: usize = 256 * 1024;
/// First retry delay (ms); doubles with each failed attempt.
pub const BACKOFF_BASE_MS: f64 = 2_000.0;
/// Longest retry delay (ms).
pub const BACKOFF_MAX_MS: f64 = 5.0 * 60_000.0;

/// Groups events (by their JSON sizes) into bodies under the collector's
/// limits: each under `MAX_BODY_BYTES`, at most `MAX_EVENTS_PER_BATCH`
/// events. An event too large on its own is left out (it could never be
/// accepted). Hands each body's index range into the input to `body`, in
/// order (a callback, not a list: less code in the wasm tracker).
pub fn pack(sizes: &[usize], mut body: impl FnMut(core::ops::Range<usize>)) {
    let mut start = 0;
    let mut bytes = ENVELOPE_BYTES;
    for (i, &len) in sizes.iter().enumerate() {
        let fits = bytes + len < MAX_BODY_BYTES && i - start < MAX_EVENTS_PER_BATCH;
        if !fits && i > start {
            body(start..i);
            start = i;
            bytes = ENVELOPE_BYTES;
        }
        if ENVELOPE_BYTES + len + 1 > MAX_BODY_BYTES {
            // Too big for any body: skip it.
            if i == start {
                start = i + 1;
            }
            continue;
        }
        bytes += len + 1;
    }
    if start < sizes.len() {
        body(start..sizes.len());
    }
}

/// What to do with the events of a body after trying to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered (or judged by the collector): forget them.
    Done,
    /// The collector will never accept this body as it is: drop it.
    Drop,
    /// Try again later (network error, overload, server error).
    Retry,
}

/// Judges a response status; `None` is a network error (offline, blocked).
pub fn outcome(status: Option<u16>) -> Outcome {
    match status {
        None => Outcome::Retry,
        Some(s) if (200..300).contains(&s) => Outcome::Done,
        Some(408 | 425 | 429) => Outcome::Retry,
        Some(s) if s >= 500 => Outcome::Retry,
        // 400 (every event rejected), 413 (too large), 415 and other client
        // errors would fail the same way again.
        Some(_) => Outcome::Drop,
    }
}

/// Delay before retry number `attempt` (0-based): exponential with "equal
/// jitter", i.e. between half and all of `base * 2^attempt`, capped.
/// `random` is uniform in [0, 1).
pub fn backoff_ms(attempt: u32, random: f64) -> f64 {
    let full = (BACKOFF_BASE_MS * (1u64 << attempt.min(20)) as f64).min(BACKOFF_MAX_MS);
    let r = if (0.0..1.0).contains(&random) {
        random
    } else {
        0.5
    };
    full / 2.0 + full / 2.0 * r
}

/// Adds events (JSON, one per entry) to the retry queue, then drops the
/// oldest until it holds at most `MAX_QUEUED_EVENTS` and `MAX_QUEUED_BYTES`.
/// Returns how many were dropped.
pub fn enqueue(queue: &mut Vec<String>, events: impl IntoIterator<Item = String>) -> u32 {
    queue.extend(events);
    let mut bytes: usize = queue.iter().map(|e| e.len() + 1).sum();
    let mut drop = 0;
    while drop < queue.len() && (queue.len() - drop > MAX_QUEUED_EVENTS || bytes > MAX_QUEUED_BYTES)
    {
        bytes -= queue[drop].len() + 1;
        drop += 1;
    }
    // A copy of the rest rather than `split_off` or `drain`, whose panic
    // paths would cost the wasm tracker more than the copy (a rare path).
    *queue = queue.get(drop..).unwrap_or_default().to_vec();
    drop as u32
}

/// The stored form of the queue: one event JSON per line (JSON text never
/// holds a raw newline).
pub fn store_queue(queue: &[String]) -> String {
    let mut out = String::new();
    for (i, e) in queue.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(e);
    }
    out
}

/// Reads the stored queue back; lines that are not JSON objects are dropped.
pub fn load_queue(stored: &str) -> Vec<String> {
    let mut queue = Vec::new();
    for l in crate::split::split(stored, b'\n') {
        // `&str` patterns: a `char` one brings its UTF-8 encoder into the
        // wasm tracker.
        if l.starts_with("{") && l.ends_with("}") {
            queue.push(l.to_owned());
        }
    }
    queue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(sizes: &[usize]) -> Vec<core::ops::Range<usize>> {
        let mut out = Vec::new();
        super::pack(sizes, |r| out.push(r));
        out
    }

    #[test]
    fn bodies_stay_under_the_size_and_count_limits_and_lose_nothing() {
        let sizes = vec![2_000; 150];
        let ranges = pack(&sizes);
        let mut next = 0;
        for r in &ranges {
            assert_eq!(r.start, next);
            next = r.end;
            let bytes: usize =
                sizes[r.clone()].iter().map(|s| s + 1).sum::<usize>() + ENVELOPE_BYTES;
            assert!(bytes <= MAX_BODY_BYTES, "{bytes}");
            assert!(r.len() <= MAX_EVENTS_PER_BATCH);
        }
        assert_eq!(next, 150);
        assert_eq!(
            pack(&[10; 250]).iter().map(|r| r.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
    }

    #[test]
    fn an_event_too_large_for_any_body_is_left_out() {
        let ranges = pack(&[10, MAX_BODY_BYTES, 10]);
        let kept: Vec<usize> = ranges.into_iter().flatten().collect();
        assert_eq!(kept, [0, 2]);
        assert!(pack(&[MAX_BODY_BYTES]).iter().all(|r| r.is_empty()));
    }

    #[test]
    fn client_errors_are_not_retried_but_network_and_server_errors_are() {
        assert_eq!(outcome(Some(200)), Outcome::Done);
        assert_eq!(outcome(Some(400)), Outcome::Drop);
        assert_eq!(outcome(Some(413)), Outcome::Drop);
        assert_eq!(outcome(None), Outcome::Retry);
        assert_eq!(outcome(Some(500)), Outcome::Retry);
        assert_eq!(outcome(Some(503)), Outcome::Retry);
        assert_eq!(outcome(Some(429)), Outcome::Retry);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff_ms(0, 0.0), 1_000.0);
        assert_eq!(backoff_ms(0, 0.999_999).round(), 2_000.0);
        assert_eq!(backoff_ms(3, 0.0), 8_000.0);
        assert_eq!(backoff_ms(30, 0.0), BACKOFF_MAX_MS / 2.0);
        assert!(backoff_ms(30, 0.99) <= BACKOFF_MAX_MS);
        assert_eq!(backoff_ms(1, f64::NAN), 3_000.0);
    }

    #[test]
    fn the_queue_drops_oldest_first_and_counts_them() {
        let mut q = Vec::new();
        let dropped = enqueue(&mut q, (0..250).map(|i| format!("{{\"i\":{i}}}")));
        assert_eq!(dropped, 50);
        assert_eq!(q.len(), MAX_QUEUED_EVENTS);
        assert_eq!(q[0], "{\"i\":50}");
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(100_000));
        let dropped = enqueue(&mut q, vec![big.clone(), big.clone(), big.clone()]);
        assert!(q.iter().map(|e| e.len() + 1).sum::<usize>() <= MAX_QUEUED_BYTES);
        assert_eq!(q.last(), Some(&big));
        assert_eq!(dropped as usize + q.len(), 203);
    }

    #[test]
    fn the_stored_queue_round_trips_and_garbage_lines_are_dropped() {
        let q = vec!["{\"a\":1}".to_owned(), "{\"b\":\"x\\ny\"}".to_owned()];
        assert_eq!(load_queue(&store_queue(&q)), q);
        assert_eq!(
            load_queue("junk\n{\"a\":1}\n\n{oops"),
            vec!["{\"a\":1}".to_owned()]
        );
        assert!(load_queue("").is_empty());
    }
}
