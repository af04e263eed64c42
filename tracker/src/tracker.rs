//! The tracker's state: ids, the pending queue and the page's listeners.

use std::cell::RefCell;

use gloo_timers::callback::Timeout;
use js_sys::Reflect;
use touchline_shared::schema::{CheckoutStep, Order, PageView};
use touchline_shared::session::Session;
use touchline_shared::{Attribution, Event, EventData, SCHEMA_VERSION};
use wasm_bindgen::{JsCast, JsValue};

use crate::browser::{self, load, now, random_hex, save};
use crate::listener::Listener;
use crate::transport;

/// localStorage keys (first-party, this origin only).
const KEY_VISITOR: &str = "tl_vid";
const KEY_SESSION: &str = "tl_sid";
const KEY_SEQ: &str = "tl_seq";
/// Events wait this long for company before a batch is sent (ms).
const FLUSH_DELAY_MS: u32 = 1_000;
/// A batch is sent at once when this many events are pending.
const FLUSH_AT_EVENTS: usize = 20;

/// The tracker of this page.
pub struct Tracker {
    site_id: String,
    endpoint: String,
    visitor_id: String,
    seq: u32,
    pending: Vec<Event>,
    flush_timer: Option<Timeout>,
    listeners: Vec<Listener>,
}

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

/// Runs `f` on the tracker if it is started and not already busy (re-entrant
/// calls from inside a callback are dropped rather than panicking).
pub(crate) fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    TRACKER.with(|t| t.try_borrow_mut().ok()?.as_mut().map(f))
}

pub(crate) fn start(site: &str, endpoint: &str) {
    if site.is_empty() || endpoint.is_empty() || with(|_| ()).is_some() {
        return;
    }
    let tracker = Tracker::new(site, endpoint);
    TRACKER.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            *t = Some(tracker);
        }
    });
    let listeners = lifecycle_listeners();
    with(|t| {
        t.listeners = listeners;
        t.page_view();
    });
}

/// Page lifecycle: flush on hide (the last moment delivery is reliable), and
/// count a back/forward-cache restore as a new page view.
fn lifecycle_listeners() -> Vec<Listener> {
    let Some(window) = browser::window() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    out.extend(Listener::new(&window, "pagehide", |_| {
        with(|t| t.flush(true));
    }));
    if let Some(doc) = browser::document() {
        out.extend(Listener::new(&doc, "visibilitychange", |_| {
            if browser::is_hidden() {
                with(|t| t.flush(true));
            }
        }));
    }
    out.extend(Listener::new(&window, "pageshow", |e| {
        let restored = e
            .dyn_ref::<web_sys::PageTransitionEvent>()
            .is_some_and(|e| e.persisted());
        if restored {
            with(|t| t.page_view());
        }
    }));
    out
}

fn valid_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn prop(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn prop_str(obj: &JsValue, key: &str) -> Option<String> {
    let v = prop(obj, key);
    v.as_string()
        .or_else(|| v.as_f64().map(|n| (n as i64).to_string()))
}

pub(crate) fn command(name: &str, arg: JsValue) {
    with(|t| t.command(name, arg));
}

impl Tracker {
    /// A tracker for `site` sending to `endpoint`, with the visitor id kept
    /// in localStorage (a new one when there is none or storage is blocked).
    pub fn new(site: &str, endpoint: &str) -> Tracker {
        let visitor_id = load(KEY_VISITOR)
            .filter(|v| valid_id(v))
            .unwrap_or_else(|| {
                let v = format!("v{}", random_hex(16));
                save(KEY_VISITOR, &v);
                v
            });
        let seq = load(KEY_SEQ).and_then(|s| s.parse().ok()).unwrap_or(0);
        Tracker {
            site_id: site.to_owned(),
            endpoint: endpoint.to_owned(),
            visitor_id,
            seq,
            pending: Vec::new(),
            flush_timer: None,
            listeners: Vec::new(),
        }
    }

    /// Runs one page command; unknown names and malformed arguments are ignored.
    pub fn command(&mut self, name: &str, arg: JsValue) {
        let t = self;
        match name {
            "page_view" => t.page_view(),
            "flush" => t.flush(false),
            "checkout" => {
                if let Some(step) = prop_str(&arg, "step") {
                    t.track(EventData::CheckoutStep(CheckoutStep { step }));
                }
            }
            "order" => {
                let (Some(order_id), Some(value)) =
                    (prop_str(&arg, "id"), prop(&arg, "value").as_f64())
                else {
                    return;
                };
                let currency = prop_str(&arg, "currency")
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                let payment_method = prop_str(&arg, "payment").map(|p| p.to_ascii_lowercase());
                t.track(EventData::Order(Order {
                    order_id,
                    value,
                    currency,
                    payment_method,
                }));
            }
            _ => {}
        }
    }

    /// Records a page view of the current location, with its attribution.
    pub fn page_view(&mut self) {
        let title = browser::title();
        let attribution = Attribution::from_landing(&browser::href(), &browser::referrer());
        self.track(EventData::PageView(PageView {
            title: (!title.is_empty()).then_some(title),
            attribution,
        }));
    }

    /// Queues one event, stamped with ids, time and sequence.
    pub fn track(&mut self, data: EventData) {
        let ts = now();
        let session = Session::touch(
            load(KEY_SESSION).and_then(|s| Session::parse(&s)),
            ts,
            || format!("s{}", random_hex(8)),
        );
        save(KEY_SESSION, &session.store());
        self.seq = self.seq.wrapping_add(1);
        save(KEY_SEQ, &self.seq.to_string());
        let referrer = match data {
            EventData::PageView(_) => Some(browser::referrer()).filter(|r| !r.is_empty()),
            _ => None,
        };
        self.pending.push(Event {
            schema: SCHEMA_VERSION,
            site_id: self.site_id.clone(),
            visitor_id: self.visitor_id.clone(),
            session_id: session.id,
            event_id: format!("e{}", random_hex(8)),
            ts: ts as i64,
            seq: self.seq,
            url: browser::href(),
            referrer,
            data,
        });
        if self.pending.len() >= FLUSH_AT_EVENTS {
            self.flush(browser::is_hidden());
        } else if self.flush_timer.is_none() {
            self.flush_timer = Some(Timeout::new(FLUSH_DELAY_MS, || {
                with(|t| t.flush(false));
            }));
        }
    }

    /// Sends everything pending; `on_hide` uses sendBeacon, which survives unload.
    pub fn flush(&mut self, on_hide: bool) {
        self.flush_timer = None;
        if self.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending);
        for body in transport::bodies(&events, now()) {
            transport::send(&self.endpoint, body, on_hide);
        }
    }

    /// Events not yet sent (for tests and debugging).
    pub fn pending(&self) -> &[Event] {
        &self.pending
    }

    /// The persisted visitor id.
    pub fn visitor_id(&self) -> &str {
        &self.visitor_id
    }
}

/// Reads the started tracker (tests and debugging).
pub fn inspect<R>(f: impl FnOnce(&Tracker) -> R) -> Option<R> {
    with(|t| f(t))
}
