//! The tracker's state: ids, the page view being watched, the pending
//! events, and the page's listeners. Every decision is asked of the core
//! (`touchline-shared`); this file reads the browser and performs effects.

use std::cell::RefCell;
use std::rc::Rc;

use touchline_shared::attribution::truncate;
use touchline_shared::config::{clean_text, slug, Config};
use touchline_shared::consent::{parse_consent, Privacy};
use touchline_shared::delivery::{backoff_ms, outcome, Outcome};
use touchline_shared::engagement::Dwell;
use touchline_shared::limits::{MAX_ID_LEN, MAX_TEXT_LEN, MAX_URL_LEN};
use touchline_shared::normalize::{hex, normalize_email, normalize_phone};
use touchline_shared::pricing::{record_pricing_view, record_product_view};
use touchline_shared::schema::*;
use touchline_shared::scroll::{depth_pct, ScrollDepth};
use touchline_shared::session::Session;
use touchline_shared::{reference, walink, Attribution, Event, EventData, SCHEMA_VERSION};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use crate::browser::{self, attr, load, meta, now, num, prop, random_id, remove, save};
use crate::listener::{Handler, Listener, Observer, Patch, Timer};
use crate::transport;

/// localStorage keys (first-party, this origin only).
const KEY_VISITOR: &str = "tl_vid";
const KEY_SESSION: &str = "tl_sid";
const KEY_SEQ: &str = "tl_seq";
const KEY_PRICING: &str = "tl_pv";
const KEY_PRODUCTS: &str = "tl_sp";
/// The visitor's consent choice: the one thing kept when tracking is denied.
const KEY_CONSENT: &str = "tl_consent";
/// Events wait this long for company before a batch is sent (ms).
const FLUSH_DELAY_MS: f64 = 1_000.0;
/// A batch is sent at once when this many events are pending.
const FLUSH_AT_EVENTS: usize = 20;
/// Activity is noted at most this often (ms): mousemove fires a lot.
const ACTIVITY_THROTTLE_MS: f64 = 500.0;

/// What is measured of one page view.
struct Page {
    url: String,
    referrer: String,
    scroll: ScrollDepth,
    containers: Vec<(String, ScrollDepth)>,
    dwell: Dwell,
    steps: Vec<String>,
}

/// The tracker of this page.
pub struct Tracker {
    site_id: String,
    endpoint: String,
    config: Config,
    allowed: bool,
    visitor_id: String,
    seq: u32,
    pending: Vec<Event>,
    page: Page,
    attempt: u32,
    last_activity: f64,
    frame_requested: bool,
    scan_sections: bool,
    dirty: Vec<Element>,
    /// Failures that degraded to "not tracked" (dropped bodies, refused APIs).
    pub failures: u32,
    flush_timer: Option<Timer>,
    retry_timer: Option<Timer>,
    heartbeat: Option<Timer>,
    observer: Option<Observer>,
    frame: Option<Closure<dyn FnMut()>>,
    listeners: Vec<Listener>,
    patches: Vec<Patch>,
}

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

/// Runs `f` on the tracker if it is started and not already busy (re-entrant
/// calls from inside a callback are dropped rather than panicking).
pub(crate) fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    TRACKER.with(|t| t.try_borrow_mut().ok()?.as_mut().map(f))
}

/// Starts the page's tracker (once) with the script tag's options; `consent`
/// is a choice queued by the page before the wasm loaded.
pub(crate) fn start(site: &str, endpoint: &str, options: JsValue, consent: JsValue) {
    if site.is_empty() || endpoint.is_empty() || with(|_| ()).is_some() {
        return;
    }
    let script = options.dyn_into::<Element>().ok();
    let config = Config::read(|name| {
        let mut a = String::from("data-");
        a.push_str(name);
        script.as_ref()?.get_attribute(&a)
    });
    if let Some(c) = consent.as_string().and_then(|c| parse_consent(&c)) {
        record_consent(c);
    }
    start_with(site, endpoint, config);
}

/// Starts the page's tracker with explicit options (tests).
pub fn start_with(site: &str, endpoint: &str, config: Config) {
    if with(|_| ()).is_some() {
        return;
    }
    let tracker = Tracker::with_config(site, endpoint, config);
    TRACKER.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            *t = Some(tracker);
        }
    });
    let listeners = listeners();
    let patches = history_patches();
    let frame = ticker(Tick::Frame);
    with(|t| {
        t.listeners = listeners;
        t.patches = patches;
        t.frame = Some(frame);
        let ms = t.config.heartbeat_ms;
        t.heartbeat = Timer::new(ms, true, ticker(Tick::Heartbeat));
        t.begin_page(browser::referrer());
        if transport::queued() {
            t.schedule_flush();
        }
    });
}

/// Stops tracking on this page: every listener, timer and patch is removed.
pub fn stop() {
    let old = TRACKER.with(|t| t.try_borrow_mut().ok().and_then(|mut t| t.take()));
    drop(old);
}

fn record_consent(granted: bool) {
    save(KEY_CONSENT, if granted { "granted" } else { "denied" });
}

/// Which timer fired.
#[derive(Clone, Copy)]
enum Tick {
    Flush,
    Retry,
    Heartbeat,
    Frame,
}

/// A callback for a timer or animation frame (one closure type for all).
fn ticker(which: Tick) -> Closure<dyn FnMut()> {
    Closure::new(move || {
        with(|t| t.on_tick(which));
    })
}

/// What a settled promise was about.
enum Settled {
    /// A delivery of these events; `ok` when fetch resolved.
    Sent(Vec<String>, bool),
    /// A SHA-256 digest for identify (email when true).
    Digest(bool),
}

/// A promise callback (one closure type for all).
fn settle(which: Settled) -> JsValue {
    Closure::once_into_js(move |v: JsValue| {
        with(|t| t.on_settled(which, v));
    })
}

/// The events listened to: `(on the document?, capture?, type)`.
const EVENTS: [(bool, bool, &str); 18] = [
    (false, false, "pagehide"),
    (false, false, "pageshow"),
    (true, false, "visibilitychange"),
    (false, false, "focus"),
    (false, false, "blur"),
    (false, true, "pointerdown"),
    (false, true, "keydown"),
    (false, true, "touchstart"),
    (false, true, "wheel"),
    (false, true, "mousemove"),
    // Scroll of the page or of any container (scroll does not bubble).
    (true, true, "scroll"),
    (false, false, "resize"),
    (false, false, "load"),
    (true, true, "click"),
    (true, true, "submit"),
    (false, false, "popstate"),
    (false, false, "hashchange"),
    (false, false, "online"),
];

/// The page lifecycle and the user's activity, all through one handler.
fn listeners() -> Vec<Listener> {
    let (Some(window), Some(doc)) = (browser::window(), browser::document()) else {
        return Vec::new();
    };
    let handler: Handler = Rc::new(Closure::new(|e: web_sys::Event| {
        with(|t| t.on_event(&e));
    }));
    EVENTS
        .iter()
        .filter_map(|&(on_doc, capture, kind)| {
            let target: &web_sys::EventTarget = if on_doc { &doc } else { &window };
            Listener::new(target, kind, capture, &handler)
        })
        .collect()
}

/// Single-page-app navigations have no event: wrap the History API.
fn history_patches() -> Vec<Patch> {
    let history = browser::path("history");
    if !history.is_object() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in ["pushState", "replaceState"] {
        out.extend(Patch::new(history.clone(), name, || {
            with(|t| t.navigated());
        }));
    }
    out
}

fn prop_str(obj: &JsValue, key: &str) -> Option<String> {
    let v = prop(obj, key);
    v.as_string().or_else(|| {
        let n = v.as_f64()?;
        (n.is_finite() && n.fract() == 0.0 && n.abs() < 9.0e15).then(|| {
            let mut s = String::new();
            touchline_shared::json::push_i64(&mut s, n as i64);
            s
        })
    })
}

fn valid_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_ID_LEN && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Tracker {
    /// A tracker with the default options (see [`Tracker::with_config`]).
    pub fn new(site: &str, endpoint: &str) -> Tracker {
        Tracker::with_config(site, endpoint, Config::default())
    }

    /// A tracker for `site` sending to `endpoint`. When consent and the
    /// browser's privacy signals allow it, the visitor id is kept in
    /// localStorage (a new one when there is none or storage is blocked);
    /// otherwise nothing is stored.
    pub fn with_config(site: &str, endpoint: &str, config: Config) -> Tracker {
        let nav = browser::path("navigator");
        let dnt = prop(&nav, "doNotTrack").as_string().as_deref() == Some("1");
        let privacy = Privacy {
            require_consent: config.require_consent,
            honor_signals: config.honor_signals,
            consent: load(KEY_CONSENT).and_then(|c| parse_consent(&c)),
            do_not_track: dnt,
            global_privacy_control: prop(&nav, "globalPrivacyControl").is_truthy(),
        };
        let t = now();
        let page = Page {
            url: String::new(),
            referrer: String::new(),
            scroll: ScrollDepth::default(),
            containers: Vec::new(),
            dwell: Dwell::new(
                t,
                config.idle_ms,
                !browser::is_hidden(),
                browser::has_focus(),
            ),
            steps: Vec::new(),
        };
        let mut tracker = Tracker {
            site_id: site.to_owned(),
            endpoint: endpoint.to_owned(),
            config,
            allowed: false,
            visitor_id: String::new(),
            seq: 0,
            pending: Vec::new(),
            page,
            attempt: 0,
            last_activity: t,
            frame_requested: false,
            scan_sections: false,
            dirty: Vec::new(),
            failures: 0,
            flush_timer: None,
            retry_timer: None,
            heartbeat: None,
            observer: None,
            frame: None,
            listeners: Vec::new(),
            patches: Vec::new(),
        };
        if privacy.allowed() {
            tracker.allow();
        }
        tracker
    }

    /// Tracking becomes allowed: read (or create) the visitor id.
    fn allow(&mut self) {
        self.allowed = true;
        self.visitor_id = load(KEY_VISITOR)
            .filter(|v| valid_id(v))
            .unwrap_or_else(|| {
                let v = random_id("v", 16);
                save(KEY_VISITOR, &v);
                v
            });
        self.seq = load(KEY_SEQ).and_then(|s| s.parse().ok()).unwrap_or(0);
    }

    /// Runs one page command; unknown names and malformed arguments are ignored.
    pub fn command(&mut self, name: &str, arg: JsValue) {
        match name {
            "page_view" => {
                let referrer = self.page.url.clone();
                self.begin_page(referrer);
            }
            "flush" => self.flush(false),
            "consent" => self.consent(arg.as_string().and_then(|c| parse_consent(&c))),
            "checkout" => {
                if let Some(step) = prop_str(&arg, "step").or_else(|| arg.as_string()) {
                    self.checkout_step(&step);
                }
            }
            "order" => self.order(&arg),
            "product" => {
                if let Some(sku) = prop_str(&arg, "sku") {
                    let price = prop(&arg, "price").as_f64();
                    self.product_view(
                        sku,
                        prop_str(&arg, "name"),
                        price,
                        prop_str(&arg, "currency"),
                    );
                }
            }
            "search" => {
                let q = prop_str(&arg, "query").or_else(|| arg.as_string());
                if let Some(q) = q
                    .map(|q| clean_text(&q, MAX_TEXT_LEN))
                    .filter(|q| !q.is_empty())
                {
                    self.track(EventData::Search(Search { query: q }));
                }
            }
            "identify" => self.identify(&arg),
            _ => {}
        }
    }

    fn consent(&mut self, choice: Option<bool>) {
        match choice {
            Some(true) => {
                record_consent(true);
                if !self.allowed {
                    self.allow();
                    let referrer = browser::referrer();
                    self.begin_page(referrer);
                }
            }
            Some(false) => {
                record_consent(false);
                self.allowed = false;
                self.pending.clear();
                self.flush_timer = None;
                self.retry_timer = None;
                for key in [KEY_VISITOR, KEY_SESSION, KEY_SEQ, KEY_PRICING, KEY_PRODUCTS] {
                    remove(key);
                }
                remove(transport::KEY_QUEUE);
                remove(transport::KEY_DROPPED);
                self.visitor_id.clear();
            }
            None => {}
        }
    }

    fn order(&mut self, arg: &JsValue) {
        let (Some(order_id), Some(value)) = (prop_str(arg, "id"), prop(arg, "value").as_f64())
        else {
            return;
        };
        let currency = prop_str(arg, "currency")
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !value.is_finite() || value < 0.0 || currency.len() != 3 {
            self.failures += 1;
            return;
        }
        let payment_method = prop_str(arg, "payment").and_then(|p| slug(&p));
        self.track(EventData::Order(Order {
            order_id: truncate(order_id, MAX_ID_LEN),
            value,
            currency,
            payment_method,
        }));
        // An order is worth sending at once.
        self.flush(false);
    }

    /// identify(email or phone): normalised here, hashed by the browser
    /// (SHA-256, Web Crypto); the raw value is never stored or sent.
    fn identify(&mut self, arg: &JsValue) {
        let (email, phone) = match arg.as_string() {
            Some(s) if s.contains('@') => (Some(s), None),
            Some(s) => (None, Some(s)),
            None => (prop_str(arg, "email"), prop_str(arg, "phone")),
        };
        if !self.allowed {
            return;
        }
        let country = self.config.phone_country.clone();
        if let Some(e) = email.and_then(|e| normalize_email(&e)) {
            digest(e, true);
        }
        if let Some(p) = phone.and_then(|p| normalize_phone(&p, country.as_deref())) {
            digest(p, false);
        }
    }

    /// Records a page view of the current location: ends the previous one,
    /// then looks at what this page is (product, pricing, checkout, search).
    pub fn page_view(&mut self) {
        let referrer = if self.page.url.is_empty() {
            browser::referrer()
        } else {
            self.page.url.clone()
        };
        self.begin_page(referrer);
    }

    /// A single-page-app navigation: a page view when the URL changed.
    fn navigated(&mut self) {
        let href = browser::href();
        if href != self.page.url {
            let referrer = self.page.url.clone();
            self.begin_page(referrer);
        }
    }

    fn begin_page(&mut self, referrer: String) {
        self.end_page();
        let t = now();
        let url = browser::href();
        self.page = Page {
            url: url.clone(),
            referrer,
            scroll: ScrollDepth::default(),
            containers: Vec::new(),
            dwell: Dwell::new(
                t,
                self.config.idle_ms,
                !browser::is_hidden(),
                browser::has_focus(),
            ),
            steps: Vec::new(),
        };
        self.observer = None;
        if !self.allowed {
            return;
        }
        let title = clean_text(&browser::title(), MAX_TEXT_LEN);
        let attribution = Attribution::from_landing(&url, &self.page.referrer);
        self.track(EventData::PageView(PageView {
            title: (!title.is_empty()).then_some(title),
            attribution,
        }));
        if let Some(query) = self.config.search_query(&url) {
            self.track(EventData::Search(Search { query }));
        }
        let kind = meta("touchline:page");
        let sku = meta("touchline:sku").or_else(|| {
            browser::query("[data-touchline-sku]").and_then(|e| attr(&e, "data-touchline-sku"))
        });
        if let Some(sku) = sku {
            let el = browser::query("[data-touchline-sku]");
            let get = |m: &str, a: &str| meta(m).or_else(|| el.as_ref().and_then(|e| attr(e, a)));
            let price = get("touchline:price", "data-touchline-price")
                .map(|p| js_sys::Number::parse_float(&p))
                .filter(|p| p.is_finite() && *p >= 0.0);
            let name = get("touchline:product-name", "data-touchline-name");
            let currency = get("touchline:currency", "data-touchline-currency");
            self.product_view(sku, name, price, currency);
        }
        if kind.as_deref() == Some("pricing") || self.config.is_pricing_path(&browser::pathname()) {
            let (stored, count_7d) =
                record_pricing_view(&load(KEY_PRICING).unwrap_or_default(), t as i64);
            save(KEY_PRICING, &stored);
            self.track(EventData::PricingView(PricingView { count_7d }));
        }
        if let Some(step) = meta("touchline:checkout-step") {
            self.checkout_step(&step);
        }
        if let Some(step) = self
            .config
            .checkout_step_of(&browser::pathname())
            .map(str::to_owned)
        {
            self.checkout_step(&step);
        }
        // Sections are looked for on the next frame: a single-page app
        // renders the new route after it has pushed its URL.
        self.scan_sections = true;
        self.request_frame();
    }

    /// Checkout sections count when they are shown; forms when submitted.
    fn observe_sections(&mut self) {
        self.scan_sections = false;
        let sections: Vec<Element> = browser::query_all("[data-touchline-step]")
            .into_iter()
            .filter(|e| {
                !prop(e, "tagName")
                    .as_string()
                    .is_some_and(|t| t.eq_ignore_ascii_case("form"))
            })
            .collect();
        if !sections.is_empty() {
            self.observer = Observer::new(&sections, |el| {
                if let Some(step) = attr(&el, "data-touchline-step") {
                    with(|t| t.checkout_step(&step));
                }
            });
        }
    }

    /// Reports what is left of the page view (engaged time, final depth).
    fn end_page(&mut self) {
        if self.page.url.is_empty() {
            return;
        }
        self.measure();
        self.report_engagement();
        if let Some(depth_pct) = self.page.scroll.take_unreported() {
            self.track(EventData::Scroll(Scroll {
                depth_pct,
                milestone: None,
                container: None,
            }));
        }
        let mut finals = Vec::new();
        for (name, s) in self.page.containers.iter_mut() {
            if let Some(d) = s.take_unreported() {
                finals.push((name.clone(), d));
            }
        }
        for (name, depth_pct) in finals {
            self.track(EventData::Scroll(Scroll {
                depth_pct,
                milestone: None,
                container: Some(name),
            }));
        }
    }

    fn product_view(
        &mut self,
        sku: String,
        name: Option<String>,
        price: Option<f64>,
        currency: Option<String>,
    ) {
        let sku = clean_text(&sku, MAX_ID_LEN);
        if sku.is_empty() || !self.allowed {
            return;
        }
        let session = self.session_id(now());
        let (stored, n) =
            record_product_view(&load(KEY_PRODUCTS).unwrap_or_default(), &session, &sku);
        save(KEY_PRODUCTS, &stored);
        let currency = currency
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()));
        self.track(EventData::ProductView(ProductView {
            sku,
            name: name
                .map(|n| clean_text(&n, MAX_TEXT_LEN))
                .filter(|n| !n.is_empty()),
            price: price.filter(|p| p.is_finite() && *p >= 0.0 && *p <= 1.0e10),
            currency,
            distinct_in_session: Some(n),
        }));
    }

    /// A checkout step, once per page view whatever announced it.
    pub fn checkout_step(&mut self, step: &str) {
        let Some(step) = slug(step) else { return };
        if self.page.steps.contains(&step) {
            return;
        }
        self.page.steps.push(step.clone());
        self.track(EventData::CheckoutStep(CheckoutStep { step }));
    }

    /// A click anywhere: WhatsApp links get a reference token in their
    /// prefilled text before the browser follows them.
    fn clicked(&mut self, target: Option<Element>) {
        let link = target.and_then(|el| el.closest("a[href]").ok().flatten());
        let Some(link) = link else { return };
        let Some(href) = prop(&link, "href").as_string() else {
            return;
        };
        if !walink::is_whatsapp_link(&href) || !self.allowed {
            return;
        }
        let mut bytes = [0u8; reference::TOKEN_BYTES];
        bytes.copy_from_slice(&browser::random_bytes(reference::TOKEN_BYTES));
        let token = reference::token_from_bytes(&bytes);
        let target = walink::decorate(&href, &token);
        if link.set_attribute("href", &target).is_err() {
            self.failures += 1;
        }
        self.track(EventData::WhatsappClick(WhatsappClick {
            target: truncate(target, MAX_URL_LEN),
            reference: Some(token),
        }));
    }

    fn activity(&mut self) {
        let t = now();
        if t - self.last_activity >= ACTIVITY_THROTTLE_MS || t < self.last_activity {
            self.last_activity = t;
            self.page.dwell.activity(t);
        }
    }

    fn focus_changed(&mut self) {
        self.page
            .dwell
            .set_state(now(), !browser::is_hidden(), browser::has_focus());
    }

    /// Sends engaged time not yet reported (heartbeat, hide, leave).
    pub fn report_engagement(&mut self) {
        // Focus can change without an event (a popup): read it now.
        self.focus_changed();
        if let Some((engaged_ms, total_ms)) = self.page.dwell.take_report(now()) {
            self.track(EventData::Engagement(Engagement {
                engaged_ms,
                total_ms,
            }));
        }
    }

    /// Metrics are read at most once per animation frame.
    fn request_frame(&mut self) {
        if self.frame_requested {
            return;
        }
        let (Some(w), Some(f)) = (browser::window(), self.frame.as_ref()) else {
            return;
        };
        self.frame_requested = w
            .request_animation_frame(f.as_ref().unchecked_ref())
            .is_ok();
    }

    /// Measures the page (once loaded, so that late content counts) and
    /// every container that scrolled; announces new milestones.
    fn measure(&mut self) {
        let complete = browser::text("document.readyState") == "complete";
        if complete {
            let n = |p: &str| browser::path(p).as_f64().unwrap_or(0.0);
            let pct = depth_pct(
                n("scrollY"),
                n("innerHeight"),
                n("document.documentElement.scrollHeight"),
            );
            let news = self.page.scroll.observe(pct);
            let max = self.page.scroll.max;
            for m in news {
                self.page.scroll.reported = max;
                self.track(EventData::Scroll(Scroll {
                    depth_pct: max,
                    milestone: Some(m),
                    container: None,
                }));
            }
        }
        for el in std::mem::take(&mut self.dirty) {
            let Some(name) = attr(&el, "data-touchline-scroll").and_then(|n| slug(&n)) else {
                continue;
            };
            let v: &JsValue = el.as_ref();
            let pct = depth_pct(
                num(v, "scrollTop"),
                num(v, "clientHeight"),
                num(v, "scrollHeight"),
            );
            let i = match self.page.containers.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    self.page
                        .containers
                        .push((name.clone(), ScrollDepth::default()));
                    self.page.containers.len() - 1
                }
            };
            let s = &mut self.page.containers[i].1;
            let news = s.observe(pct);
            let max = s.max;
            if !news.is_empty() {
                s.reported = max;
            }
            for m in news {
                self.track(EventData::Scroll(Scroll {
                    depth_pct: max,
                    milestone: Some(m),
                    container: Some(name.clone()),
                }));
            }
        }
    }

    fn session_id(&mut self, t: f64) -> String {
        let session = Session::touch(
            load(KEY_SESSION).and_then(|s| Session::parse(&s)),
            t,
            || random_id("s", 8),
        );
        save(KEY_SESSION, &session.store());
        session.id
    }

    /// Queues one event, stamped with ids, time and sequence; nothing at all
    /// happens while tracking is not allowed.
    pub fn track(&mut self, data: EventData) {
        if !self.allowed {
            return;
        }
        let ts = now();
        let session_id = self.session_id(ts);
        self.seq = self.seq.wrapping_add(1);
        let mut seq = String::new();
        touchline_shared::json::push_u64(&mut seq, self.seq as u64);
        save(KEY_SEQ, &seq);
        let referrer = match data {
            EventData::PageView(_) => {
                Some(truncate(self.page.referrer.clone(), MAX_URL_LEN)).filter(|r| r.contains(':'))
            }
            _ => None,
        };
        self.pending.push(Event {
            schema: SCHEMA_VERSION,
            site_id: self.site_id.clone(),
            visitor_id: self.visitor_id.clone(),
            session_id,
            event_id: random_id("e", 8),
            ts: ts as i64,
            seq: self.seq,
            url: truncate(browser::href(), MAX_URL_LEN),
            referrer,
            data,
        });
        if self.pending.len() >= FLUSH_AT_EVENTS {
            self.flush(browser::is_hidden());
        } else {
            self.schedule_flush();
        }
    }

    fn schedule_flush(&mut self) {
        if self.flush_timer.is_none() {
            self.flush_timer = Timer::new(FLUSH_DELAY_MS, false, ticker(Tick::Flush));
        }
    }

    /// Sends everything pending (and, when the page is live and no retry is
    /// waiting, the retry queue first); `on_hide` uses sendBeacon.
    pub fn flush(&mut self, on_hide: bool) {
        self.flush_timer = None;
        if !self.allowed {
            self.pending.clear();
            return;
        }
        let mut events = Vec::new();
        if !on_hide && self.retry_timer.is_none() {
            events = transport::take_queue();
        }
        events.extend(self.pending.drain(..).map(|e| e.to_json()));
        if events.is_empty() {
            return;
        }
        for (body, group) in transport::bodies(events, now()) {
            if let Some(promise) = transport::send(&self.endpoint, &body, on_hide) {
                let ok = settle(Settled::Sent(group.clone(), true));
                promise.then(&ok, &settle(Settled::Sent(group, false)));
            }
        }
    }

    fn delivered(&mut self, outcome: Outcome, group: Vec<String>) {
        match outcome {
            Outcome::Done => {
                self.attempt = 0;
                if transport::queued() && self.retry_timer.is_none() {
                    self.schedule_flush();
                }
            }
            Outcome::Drop => self.failures += 1,
            Outcome::Retry => {
                if !self.allowed {
                    return;
                }
                transport::requeue(group);
                if self.retry_timer.is_none() {
                    let delay = backoff_ms(self.attempt, js_sys::Math::random());
                    self.attempt = self.attempt.saturating_add(1);
                    self.retry_timer = Timer::new(delay, false, ticker(Tick::Retry));
                }
            }
        }
    }

    fn on_tick(&mut self, which: Tick) {
        match which {
            Tick::Flush => self.flush(false),
            Tick::Retry => {
                self.retry_timer = None;
                self.flush(false);
            }
            Tick::Heartbeat => self.report_engagement(),
            Tick::Frame => {
                self.frame_requested = false;
                if self.scan_sections && self.allowed {
                    self.observe_sections();
                }
                self.measure();
            }
        }
    }

    fn on_settled(&mut self, which: Settled, v: JsValue) {
        match which {
            Settled::Sent(group, ok) => {
                let status = ok.then(|| num(&v, "status") as u16);
                self.delivered(outcome(status), group);
            }
            Settled::Digest(is_email) => {
                let h = hex(&js_sys::Uint8Array::new(&v).to_vec());
                let data = if is_email {
                    Identify {
                        email_sha256: Some(h),
                        phone_sha256: None,
                    }
                } else {
                    Identify {
                        email_sha256: None,
                        phone_sha256: Some(h),
                    }
                };
                self.track(EventData::Identify(data));
            }
        }
    }

    fn on_event(&mut self, e: &web_sys::Event) {
        let target = prop(e, "target").dyn_into::<Element>().ok();
        match prop(e, "type").as_string().unwrap_or_default().as_str() {
            // Leaving (or entering the back/forward cache): report, then beacon.
            "pagehide" => {
                self.end_page();
                self.flush(true);
            }
            "pageshow" => {
                if prop(e, "persisted").is_truthy() {
                    self.begin_page(browser::referrer());
                }
            }
            "visibilitychange" => {
                self.focus_changed();
                if browser::is_hidden() {
                    self.report_engagement();
                    self.flush(true);
                }
            }
            "focus" | "blur" => self.focus_changed(),
            "scroll" => {
                self.activity();
                if let Some(el) = target {
                    if el.has_attribute("data-touchline-scroll") && !self.dirty.contains(&el) {
                        self.dirty.push(el);
                    }
                }
                self.request_frame();
            }
            "resize" | "load" => self.request_frame(),
            "click" => self.clicked(target),
            "submit" => {
                if let Some(step) = target.and_then(|f| attr(&f, "data-touchline-step")) {
                    self.checkout_step(&step);
                }
            }
            "popstate" | "hashchange" => self.navigated(),
            // Back online: send the retry queue now rather than after the backoff.
            "online" => {
                self.retry_timer = None;
                self.attempt = 0;
                self.flush(false);
            }
            _ => self.activity(),
        }
    }

    /// Events not yet sent (for tests and debugging).
    pub fn pending(&self) -> &[Event] {
        &self.pending
    }

    /// The persisted visitor id (empty while tracking is not allowed).
    pub fn visitor_id(&self) -> &str {
        &self.visitor_id
    }

    /// True when consent and privacy signals allow tracking.
    pub fn allowed(&self) -> bool {
        self.allowed
    }
}

/// SHA-256 of a normalised identifier through Web Crypto, then an identify
/// event. Failures (no Web Crypto, e.g. an insecure context) are "not tracked".
fn digest(value: String, is_email: bool) {
    let subtle = browser::path("crypto.subtle");
    if !subtle.is_object() {
        return;
    }
    let subtle = subtle.unchecked_into::<web_sys::SubtleCrypto>();
    let bytes = value.into_bytes();
    let Ok(promise) = subtle.digest_with_str_and_u8_array("SHA-256", &bytes) else {
        return;
    };
    let promise = promise.unchecked_into::<transport::Thenable>();
    promise.then(&settle(Settled::Digest(is_email)), &JsValue::UNDEFINED);
}

/// Reads the started tracker (tests and debugging).
pub fn inspect<R>(f: impl FnOnce(&Tracker) -> R) -> Option<R> {
    with(|t| f(t))
}
