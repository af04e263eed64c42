//! Small, failure-tolerant reads of the browser. Each returns a default
//! instead of an error: a blocked storage or a missing API means "not tracked".

use web_sys::{Storage, Window};

pub fn window() -> Option<Window> {
    web_sys::window()
}

pub fn now() -> f64 {
    js_sys::Date::now()
}

fn storage() -> Option<Storage> {
    window()?.local_storage().ok()?
}

/// Reads a localStorage key; `None` when absent or storage is blocked.
pub fn load(key: &str) -> Option<String> {
    storage()?.get_item(key).ok()?
}

/// Writes a localStorage key; a full or blocked storage is ignored.
pub fn save(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

/// `n` random bytes as lowercase hex, from the Web Crypto API; falls back to
/// `Math.random` when crypto is unavailable (ids must still be unique enough).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let filled = window()
        .and_then(|w| w.crypto().ok())
        .map(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok())
        .unwrap_or(false);
    if !filled {
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(n * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

pub fn href() -> String {
    window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

pub fn document() -> Option<web_sys::Document> {
    window()?.document()
}

pub fn referrer() -> String {
    document().map(|d| d.referrer()).unwrap_or_default()
}

pub fn title() -> String {
    document().map(|d| d.title()).unwrap_or_default()
}

pub fn is_hidden() -> bool {
    document()
        .map(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
        .unwrap_or(false)
}
