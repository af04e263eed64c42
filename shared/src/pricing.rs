//! Repeat pricing views: a rolling 7-day count kept by the browser between
//! page loads, and the distinct products of a session (comparisons). Both are
//! stored as short strings the shell puts in localStorage; both are bounded.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::split::split;

/// The window of the pricing count (ms).
pub const PRICING_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Most pricing views remembered; older ones are forgotten first.
pub const MAX_PRICING_VIEWS: usize = 50;
/// Most distinct products remembered per session.
pub const MAX_SESSION_PRODUCTS: usize = 20;

/// Records a pricing view at `now` in the stored list (`"t1,t2,…"`, ms).
/// Returns the new stored form and the count within the last 7 days, this
/// view included. Unreadable entries are dropped; entries from the future
/// (clock changes) are kept, as they still happened within the window.
pub fn record_pricing_view(stored: &str, now: i64) -> (String, u32) {
    // Loops rather than iterator adapters: each adapter is more code in the
    // wasm tracker.
    let mut times = Vec::new();
    for t in split(stored, b',') {
        match crate::json::parse_i64(t) {
            Some(t) if now - t < PRICING_WINDOW_MS => times.push(t),
            _ => {}
        }
    }
    times.push(now);
    // The oldest are forgotten (a slice, not `drain`: less code in the wasm).
    let times = &times[times.len().saturating_sub(MAX_PRICING_VIEWS)..];
    let mut out = String::new();
    for (i, t) in times.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::json::push_i64(&mut out, *t);
    }
    (out, times.len() as u32)
}

/// Records a product view of `sku` in `session`, in the stored form
/// `"<session>|sku1|sku2…"`. Returns the new stored form and how many
/// different products this session has viewed (this one included).
pub fn record_product_view(stored: &str, session: &str, sku: &str) -> (String, u32) {
    let mut parts = split(stored, b'|');
    let same = parts.next() == Some(session);
    let mut skus: Vec<&str> = Vec::new();
    if same {
        for s in parts {
            if !s.is_empty() {
                skus.push(s);
            }
        }
    }
    // `|` separates the list, so a sku's own `|` becomes `/` (by splitting:
    // `str::replace` brings a substring searcher into the wasm tracker).
    let mut clean = String::with_capacity(sku.len());
    for (i, part) in split(sku, b'|').enumerate() {
        if i > 0 {
            clean.push('/');
        }
        clean.push_str(part);
    }
    if !skus.contains(&clean.as_str()) {
        skus.push(&clean);
    }
    let skus = &skus[skus.len().saturating_sub(MAX_SESSION_PRODUCTS)..];
    let mut out = String::from(session);
    for s in skus {
        out.push('|');
        out.push_str(s);
    }
    let n = if same || skus.len() == 1 {
        skus.len()
    } else {
        1
    };
    (out, n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60 * 1000;

    #[test]
    fn two_views_count_two_and_a_third_after_eight_days_counts_one() {
        let (s, n) = record_pricing_view("", 0);
        assert_eq!(n, 1);
        let (s, n) = record_pricing_view(&s, DAY);
        assert_eq!(n, 2);
        let (s, n) = record_pricing_view(&s, 9 * DAY);
        assert_eq!(n, 1);
        assert_eq!(s, (9 * DAY).to_string(), "old views are forgotten");
    }

    #[test]
    fn the_stored_list_is_bounded_and_garbage_is_ignored() {
        let mut s = String::from("x,,12abc,-");
        for i in 0..200 {
            s = record_pricing_view(&s, i).0;
        }
        let (s, n) = record_pricing_view(&s, 200);
        assert_eq!(n as usize, MAX_PRICING_VIEWS);
        assert!(s.len() < 400, "{}", s.len());
    }

    #[test]
    fn two_different_products_in_one_session_count_two_and_a_new_session_restarts() {
        let (s, n) = record_product_view("", "s1", "KURTA-001");
        assert_eq!(n, 1);
        let (s, n) = record_product_view(&s, "s1", "KURTA-001");
        assert_eq!(n, 1, "the same product again is not a comparison");
        let (s, n) = record_product_view(&s, "s1", "SAREE-002");
        assert_eq!(n, 2);
        assert_eq!(s, "s1|KURTA-001|SAREE-002");
        let (_, n) = record_product_view(&s, "s2", "SAREE-002");
        assert_eq!(n, 1);
    }
}
