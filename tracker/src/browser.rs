//! Small, failure-tolerant reads of the browser. Each returns a default
//! instead of an error: a blocked storage or a missing API means "not tracked".

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Storage, Window};

pub fn window() -> Option<Window> {
    web_sys::window()
}

pub fn document() -> Option<Document> {
    window()?.document()
}

pub fn now() -> f64 {
    js_sys::Date::now()
}

/// A property of a JS object; `undefined` when absent or unreadable.
pub fn prop(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A numeric property; 0 when absent.
pub fn num(obj: &JsValue, key: &str) -> f64 {
    prop(obj, key).as_f64().unwrap_or(0.0)
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

/// Removes a localStorage key.
pub fn remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// `n` random bytes from the Web Crypto API, or `Math.random` without it.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    let crypto = path("crypto");
    let filled = crypto.is_object()
        && crypto
            .unchecked_ref::<web_sys::Crypto>()
            .get_random_values_with_u8_array(&mut bytes)
            .is_ok();
    if !filled {
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes
}

/// A prefix followed by `n` random bytes in hex (ids).
pub fn random_id(prefix: &str, n: usize) -> String {
    let mut s = String::from(prefix);
    s.push_str(&touchline_shared::normalize::hex(&random_bytes(n)));
    s
}

/// A property reached through a dotted path (`"location.href"`) from the
/// window. One `Reflect.get` serves every such read: each typed web-sys
/// getter would add its own glue to what the page downloads.
pub fn path(path: &str) -> JsValue {
    let w: JsValue = window().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
    path.split('.').fold(w, |v, k| prop(&v, k))
}

/// [`path`] as text; empty when absent or not text.
pub fn text(p: &str) -> String {
    path(p).as_string().unwrap_or_default()
}

pub fn href() -> String {
    text("location.href")
}

pub fn pathname() -> String {
    text("location.pathname")
}

pub fn referrer() -> String {
    text("document.referrer")
}

pub fn title() -> String {
    text("document.title")
}

pub fn is_hidden() -> bool {
    text("document.visibilityState") == "hidden"
}

pub fn has_focus() -> bool {
    document().is_some_and(|d| d.has_focus().unwrap_or(true))
}

/// The first element matching `selector`.
pub fn query(selector: &str) -> Option<Element> {
    document()?.query_selector(selector).ok()?
}

/// Every element matching `selector`.
pub fn query_all(selector: &str) -> Vec<Element> {
    let Some(list) = document().and_then(|d| d.query_selector_all(selector).ok()) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<Element>().ok())
        .collect()
}

/// `content` of `<meta name="NAME">`, trimmed, if present and not empty.
pub fn meta(name: &str) -> Option<String> {
    let mut sel = String::from("meta[name=\"");
    sel.push_str(name);
    sel.push_str("\"]");
    attr(&query(&sel)?, "content")
}

/// An attribute, trimmed, if present and not empty.
pub fn attr(el: &Element, name: &str) -> Option<String> {
    let v = el.get_attribute(name)?;
    let v = v.trim_ascii();
    (!v.is_empty()).then(|| v.to_owned())
}
