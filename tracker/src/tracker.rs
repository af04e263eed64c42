//! The tracker's decisions: ids, the page view being watched, the pending
//! events, timers and the retry queue. The shell reports what happened (one
//! operation with its text and number arguments); this file asks the shared
//! core what it means and answers with effects for the shell to perform.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use touchline_shared::attribution::truncate;
use touchline_shared::config::{clean_text, slug, Config};
use touchline_shared::consent::{parse_consent, Privacy};
use touchline_shared::delivery::{self, backoff_ms, outcome, Outcome};
use touchline_shared::engagement::Dwell;
use touchline_shared::json::{parse_i64, push_u64, write_event, Envelope, Obj};
use touchline_shared::limits::{MAX_ID_LEN, MAX_TEXT_LEN, MAX_URL_LEN};
use touchline_shared::normalize::{normalize_email, normalize_phone};
use touchline_shared::pricing::{record_pricing_view, record_product_view};
use touchline_shared::scroll::{depth_pct, milestones, ScrollDepth};
use touchline_shared::session::Session;
use touchline_shared::split::{has, split, split_once};
use touchline_shared::{reference, walink, Attribution, SCHEMA_VERSION};

use crate::transport::{bodies, KEY_DROPPED, KEY_QUEUE};

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

// What the shell reports (`op` of `Tracker::on`); `src/shell.js` uses the
// same numbers.
pub(crate) const START: u32 = 0;
const COMMAND: u32 = 1;
const NAVIGATED: u32 = 2;
const SHOWN: u32 = 3;
const HIDDEN: u32 = 4;
const VISIBILITY: u32 = 5;
const FOCUS: u32 = 6;
const ACTIVITY: u32 = 7;
const FRAME: u32 = 8;
const CLICK: u32 = 9;
const STEP: u32 = 10;
const TIMER: u32 = 11;
const SENT: u32 = 12;
const DIGEST: u32 = 13;
const ONLINE: u32 = 14;

// The timers (`crate::timer`; `TIMER` reports the id as its number).
const T_FLUSH: u32 = 0;
const T_RETRY: u32 = 1;
const T_HEARTBEAT: u32 = 2;

// The page context, which only the operations that may begin a page view
// carry (START to SHOWN): location.href, location.pathname,
// document.referrer, document.title, the page's markup (touchline:page, the
// product's sku, name, currency, touchline:checkout-step), the hosts of the
// page and of document.referrer, and the decoded query string (pairs split
// by `\x1c`, key and value by `\x1d`): the browser's URL parser takes URLs
// apart, the core decides what they mean. The
// operation's own texts follow (`Tracker::arg`); the other operations carry
// only their own.
const S_HREF: usize = 0;
const S_PATH: usize = 1;
const S_REFERRER: usize = 2;
const S_TITLE: usize = 3;
const S_KIND: usize = 4;
const S_SKU: usize = 5;
const S_NAME: usize = 6;
const S_CURRENCY: usize = 7;
const S_STEP: usize = 8;
const S_HOST: usize = 9;
const S_REF_HOST: usize = 10;
const S_QUERY: usize = 11;
const CONTEXT: usize = 12;
// Numbers: Date.now(), visible, focused, four random u32 (crypto), the
// product's price (NaN when none); the operation's own numbers follow.
const N_NOW: usize = 0;
const N_VISIBLE: usize = 1;
const N_FOCUSED: usize = 2;
const N_RANDOM: usize = 3;
const N_PRICE: usize = 7;
const N_OP: usize = 8;

/// What is measured of one page view.
#[derive(Default)]
struct Page {
    url: String,
    referrer: String,
    /// Scroll depths by container name ("" for the document).
    depths: Vec<(String, ScrollDepth)>,
    dwell: Option<Dwell>,
    steps: Vec<String>,
}

/// The tracker of one page (one per boot of the shell, see [`crate::on`]).
#[derive(Default)]
pub struct Tracker {
    started: bool,
    site_id: String,
    config: Config,
    allowed: bool,
    visitor_id: String,
    seq: u32,
    /// Events (JSON) waiting for the next batch.
    pending: Vec<String>,
    page: Page,
    attempt: u32,
    scan_sections: bool,
    flush_timer: bool,
    retry_timer: bool,
    rng: u64,
}

/// The texts of one call to [`Tracker::on`], borrowed from it, and where
/// the operation's own begin (its numbers are read from the shell, see
/// [`crate::num`]). Passed beside the tracker rather than kept in it, so
/// nothing is copied to be read while the tracker changes.
struct Call<'a> {
    texts: Vec<&'a str>,
    base: usize,
}

impl<'a> Call<'a> {
    #[inline(never)]
    fn s(&self, i: usize) -> &'a str {
        self.texts.get(i).copied().unwrap_or("")
    }

    /// The operation's own text `i` (after the page context, if any).
    fn arg(&self, i: usize) -> &'a str {
        self.s(self.base + i)
    }

    /// The page's decoded query `(key, value)` pairs.
    fn query(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        // One closure rather than `filter` and `map`: less wasm.
        let mut pairs = split(self.s(S_QUERY), 0x1c);
        core::iter::from_fn(move || loop {
            let p = pairs.next()?;
            if !p.is_empty() {
                return Some(split_once(p, 0x1d).unwrap_or((p, "")));
            }
        })
    }
}

fn valid_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_ID_LEN && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An event's `data` object: its kind, then members written by `f`.
// `inline(never)` on `data`, `s` and `n`: called from every decision, they
// are smaller out of line (about 250 bytes brotli).
#[inline(never)]
fn data(kind: &str, f: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut out = String::new();
    let mut o = Obj::open(&mut out);
    o.str("kind", kind);
    f(&mut o);
    o.close();
    out
}

/// A currency code: three ASCII letters, uppercased (empty when not one).
fn currency_code(c: &str) -> String {
    let c = c.to_ascii_uppercase();
    match c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        true => c,
        false => String::new(),
    }
}

fn stored_u32(s: &str) -> Option<u32> {
    u32::try_from(parse_i64(s)?).ok()
}

fn number(n: u64) -> String {
    let mut s = String::new();
    push_u64(&mut s, n);
    s
}

impl Tracker {
    /// One thing that happened on the page (`op`, see `src/shell.js`), with
    /// the page context and the operation's texts (joined by `\x1f`); its
    /// numbers are read through [`crate::num`], stored values through
    /// [`crate::load`] and [`crate::save`]. What the shell is to do it is
    /// told at once, through the other imports of `src/lib.rs` (send, set a
    /// timer, measure next frame, observe checkout sections, decorate the
    /// clicked link, hash an identify value): each only starts something
    /// whose outcome comes back as a later operation, never within this call.
    pub(crate) fn on(&mut self, op: u32, texts: &str) {
        let mut c = Call {
            texts: Vec::new(),
            base: if op < HIDDEN { CONTEXT } else { 0 },
        };
        for t in split(texts, 0x1f) {
            c.texts.push(t);
        }
        self.mix_entropy();
        if op == START {
            self.start(&c);
        } else if self.started {
            self.dispatch(op, &c);
        }
    }
}

impl Tracker {
    #[inline(never)]
    fn n(&self, i: usize) -> f64 {
        crate::num(i as u32)
    }

    fn now(&self) -> f64 {
        self.n(N_NOW)
    }

    fn dispatch(&mut self, op: u32, c: &Call<'_>) {
        match op {
            COMMAND => self.command(c),
            NAVIGATED if c.s(S_HREF) != self.page.url => {
                self.begin_page(c, true);
            }
            SHOWN => self.begin_page(c, false),
            // Leaving (or entering the back/forward cache): report, then beacon.
            HIDDEN => {
                self.measure(c);
                self.end_page();
                self.flush(true);
            }
            VISIBILITY => {
                self.focus_changed();
                if self.n(N_VISIBLE) != 1.0 {
                    self.report_engagement();
                    self.flush(true);
                }
            }
            FOCUS => self.focus_changed(),
            ACTIVITY => {
                let now = self.now();
                if let Some(d) = self.page.dwell.as_mut() {
                    d.activity(now);
                }
            }
            FRAME => {
                if self.scan_sections && self.allowed {
                    self.scan_sections = false;
                    crate::observe();
                }
                self.measure(c);
            }
            CLICK => self.clicked(c),
            STEP => self.checkout_step(c.arg(0)),
            TIMER => match self.n(N_OP) as u32 {
                T_FLUSH => {
                    self.flush_timer = false;
                    self.flush(false);
                }
                T_RETRY => {
                    self.retry_timer = false;
                    self.flush(false);
                }
                _ => {
                    self.report_engagement();
                    self.timer(T_HEARTBEAT, self.config.heartbeat_ms);
                }
            },
            SENT => self.sent(c),
            DIGEST => self.digested(c),
            // Back online: send the retry queue now rather than after the backoff.
            ONLINE => {
                self.clear_timer(T_RETRY);
                self.attempt = 0;
                self.flush(false);
            }
            _ => {}
        }
    }

    /// Starts tracking with the script tag's options: texts are the site id,
    /// a consent choice queued before the wasm loaded, `navigator.doNotTrack`
    /// and option name/value pairs; the number is `globalPrivacyControl`.
    fn start(&mut self, c: &Call<'_>) {
        let site = c.arg(0);
        if self.started || site.is_empty() {
            return;
        }
        self.started = true;
        self.site_id = site.to_owned();
        let mut config = Config::default();
        for p in c.texts.get(c.base + 3..).unwrap_or_default().chunks(2) {
            config.set(p[0], p.get(1).copied().unwrap_or(""));
        }
        self.config = config;
        if let Some(choice) = parse_consent(c.arg(1)) {
            self.record_consent(choice);
        }
        let privacy = Privacy {
            require_consent: self.config.require_consent,
            honor_signals: self.config.honor_signals,
            consent: parse_consent(&self.get(KEY_CONSENT)),
            do_not_track: c.arg(2) == "1",
            global_privacy_control: self.n(N_OP) == 1.0,
        };
        if privacy.allowed() {
            self.allow();
        }
        self.timer(T_HEARTBEAT, self.config.heartbeat_ms);
        self.begin_page(c, false);
        if self.queued() {
            self.schedule_flush();
        }
    }

    // ---- storage, timers, randomness

    /// A stored value (empty when absent).
    fn get(&self, key: &str) -> String {
        crate::load(key)
    }

    /// Stores a value at once (the shell's localStorage; an empty value
    /// removes the key).
    fn set(&mut self, key: &str, value: &str) {
        crate::save(key, value);
    }

    fn remove(&mut self, key: &str) {
        crate::save(key, "");
    }

    fn timer(&mut self, id: u32, ms: f64) {
        crate::timer(id, ms);
    }

    fn clear_timer(&mut self, id: u32) {
        let set = match id {
            T_FLUSH => core::mem::take(&mut self.flush_timer),
            _ => core::mem::take(&mut self.retry_timer),
        };
        if set {
            crate::timer(id, -1.0);
        }
    }

    /// Folds this call's random numbers (Web Crypto) into the generator.
    fn mix_entropy(&mut self) {
        for i in 0..4 {
            let r = self.n(N_RANDOM + i);
            if r.is_finite() {
                self.rng = (self.rng ^ r as u64).rotate_left(32);
            }
            self.next_random();
        }
    }

    /// SplitMix64 over the mixed state.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A prefix followed by `bytes` random bytes in lowercase hex (ids, and
    /// reference tokens as `reference::token_from_bytes` writes them).
    fn random_id(&mut self, prefix: &str, bytes: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::from(prefix);
        let mut r = 0;
        for i in 0..bytes {
            if i % 8 == 0 {
                r = self.next_random();
            }
            // Little-endian bytes of each random word.
            let b = r as u8;
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
            r >>= 8;
        }
        s
    }

    // ---- consent and commands

    fn record_consent(&mut self, granted: bool) {
        let v = if granted { "granted" } else { "denied" };
        self.set(KEY_CONSENT, v);
    }

    /// Tracking becomes allowed: read (or create) the visitor id.
    fn allow(&mut self) {
        self.allowed = true;
        let mut v = self.get(KEY_VISITOR);
        if !valid_id(&v) {
            v = self.random_id("v", 16);
            self.set(KEY_VISITOR, &v);
        }
        self.visitor_id = v;
        self.seq = stored_u32(&self.get(KEY_SEQ)).unwrap_or(0);
    }

    /// One page command: texts are the name, the argument when it is text,
    /// then its `step`, `id`, `currency`, `payment`, `sku`, `name`, `query`,
    /// `email`, `phone` (text, or integers as text; empty when absent);
    /// numbers are its `value` and `price` (NaN when not numbers).
    /// Unknown names and malformed arguments are ignored.
    fn command(&mut self, c: &Call<'_>) {
        let t = |i: usize| c.arg(i);
        // A field of the argument object, else the argument when it is text.
        let or_arg = |i: usize| Some(t(i)).filter(|v| !v.is_empty()).unwrap_or(t(1));
        match t(0) {
            "page_view" => self.begin_page(c, true),
            "consent" => self.consent(c, parse_consent(t(1))),
            "flush" => self.flush(false),
            "checkout" => self.checkout_step(or_arg(2)),
            "order" => self.order(t(3), t(4), t(5)),
            "product" => self.product_view(t(6), t(7), self.n(N_OP + 1), t(4)),
            "search" => {
                let query = clean_text(or_arg(8), MAX_TEXT_LEN);
                if !query.is_empty() {
                    self.search(&query);
                }
            }
            "identify" => match t(1) {
                "" => self.identify(t(9), t(10)),
                a if has(a, b'@') => self.identify(a, ""),
                a => self.identify("", a),
            },
            _ => {}
        }
    }

    fn consent(&mut self, c: &Call<'_>, choice: Option<bool>) {
        match choice {
            Some(true) => {
                self.record_consent(true);
                if !self.allowed {
                    self.allow();
                    self.begin_page(c, false);
                }
            }
            Some(false) => {
                self.record_consent(false);
                self.allowed = false;
                self.pending.clear();
                self.clear_timer(T_FLUSH);
                self.clear_timer(T_RETRY);
                for key in [
                    KEY_VISITOR,
                    KEY_SESSION,
                    KEY_SEQ,
                    KEY_PRICING,
                    KEY_PRODUCTS,
                    KEY_QUEUE,
                    KEY_DROPPED,
                ] {
                    self.remove(key);
                }
                self.visitor_id.clear();
            }
            None => {}
        }
    }

    fn order(&mut self, id: &str, currency: &str, payment: &str) {
        let value = self.n(N_OP);
        let currency = currency_code(currency);
        if id.is_empty() || !value.is_finite() || value < 0.0 || currency.is_empty() {
            return;
        }
        let order_id = truncate(id.to_owned(), MAX_ID_LEN);
        let payment = slug(payment).unwrap_or_default();
        self.track(data("order", |o| {
            o.str("order_id", &order_id);
            o.num("value", value);
            o.str("currency", &currency);
            o.text("payment_method", &payment);
        }));
        // An order is worth sending at once.
        self.flush(false);
    }

    /// identify(email or phone): normalised here, hashed by the shell
    /// (SHA-256, Web Crypto); the raw value is never stored or sent.
    fn identify(&mut self, email: &str, phone: &str) {
        if !self.allowed {
            return;
        }
        if let Some(e) = normalize_email(email) {
            crate::digest("e", &e);
        }
        if let Some(p) = normalize_phone(phone, self.config.phone_country.as_deref()) {
            crate::digest("p", &p);
        }
    }

    /// The SHA-256 (hex) of an identify value: texts are `e`/`p` and the hex.
    fn digested(&mut self, c: &Call<'_>) {
        // Lowercase hex, as the shell writes it (and as the schema wants).
        let h = c.arg(1);
        if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return;
        }
        let key = if c.arg(0) == "e" {
            "email_sha256"
        } else {
            "phone_sha256"
        };
        self.track(data("identify", |o| o.str(key, h)));
    }

    // ---- page views

    /// A new page view; `internal` when the page itself changed its URL
    /// (the old URL is the referrer), not when the browser loaded or restored
    /// it (document.referrer is).
    fn begin_page(&mut self, c: &Call<'_>, internal: bool) {
        self.end_page();
        let (referrer, ref_host) = match internal {
            true => (self.page.url.clone(), S_HOST),
            false => (c.s(S_REFERRER).to_owned(), S_REF_HOST),
        };
        let (now, url) = (self.now(), c.s(S_HREF).to_owned());
        let dwell = Dwell::new(
            now,
            self.config.idle_ms,
            self.n(N_VISIBLE) == 1.0,
            self.n(N_FOCUSED) == 1.0,
        );
        self.page = Page {
            url,
            referrer,
            dwell: Some(dwell),
            ..Page::default()
        };
        self.scan_sections = false;
        if !self.allowed {
            return;
        }
        let title = clean_text(c.s(S_TITLE), MAX_TEXT_LEN);
        let attribution = Attribution::from_parts(c.query(), c.s(S_HOST), c.s(ref_host));
        self.track(data("page_view", |o| {
            o.text("title", &title);
            if !attribution.is_empty() {
                attribution.write(o.key("attribution"));
            }
        }));
        if let Some(query) = self.config.search_query(c.query()) {
            self.search(&query);
        }
        self.product_view(c.s(S_SKU), c.s(S_NAME), self.n(N_PRICE), c.s(S_CURRENCY));
        let path = c.s(S_PATH);
        if c.s(S_KIND) == "pricing" || self.config.is_pricing_path(path) {
            let stored = self.get(KEY_PRICING);
            let (stored, count_7d) = record_pricing_view(&stored, now as i64);
            self.set(KEY_PRICING, &stored);
            self.track(data("pricing_view", |o| o.int("count_7d", count_7d as i64)));
        }
        let meta_step = c.s(S_STEP);
        if !meta_step.is_empty() {
            self.checkout_step(meta_step);
        }
        if let Some(step) = self.config.checkout_step_of(path) {
            self.checkout_step(&step);
        }
        // Sections are looked for on the next frame: a single-page app
        // renders the new route after it has pushed its URL.
        self.scan_sections = true;
        crate::request();
    }

    /// Reports what is left of the page view (engaged time, final depth).
    fn end_page(&mut self) {
        if self.page.url.is_empty() {
            return;
        }
        self.report_engagement();
        let mut depths = core::mem::take(&mut self.page.depths);
        for (name, s) in depths.iter_mut() {
            if let Some(d) = s.take_unreported() {
                self.scroll(d, None, name);
            }
        }
        self.page.depths = depths;
    }

    /// A product seen (empty texts are absent values).
    fn product_view(&mut self, sku: &str, name: &str, price: f64, currency: &str) {
        let sku = clean_text(sku, MAX_ID_LEN);
        if sku.is_empty() || !self.allowed {
            return;
        }
        let session = self.session_id();
        let stored = self.get(KEY_PRODUCTS);
        let (stored, n) = record_product_view(&stored, &session, &sku);
        self.set(KEY_PRODUCTS, &stored);
        let currency = currency_code(currency);
        let name = clean_text(name, MAX_TEXT_LEN);
        self.track(data("product_view", |o| {
            o.str("sku", &sku);
            o.text("name", &name);
            if price.is_finite() && (0.0..=1.0e10).contains(&price) {
                o.num("price", price);
            }
            o.text("currency", &currency);
            o.int("distinct_in_session", n as i64);
        }));
    }

    /// A checkout step, once per page view whatever announced it.
    fn checkout_step(&mut self, step: &str) {
        let Some(step) = slug(step) else { return };
        if self.page.steps.contains(&step) {
            return;
        }
        self.track(data("checkout_step", |o| o.str("step", &step)));
        self.page.steps.push(step);
    }

    /// A click on a link: texts are its href as the page wrote it (before
    /// any reference of ours), protocol, host and decoded prefilled `text`.
    /// WhatsApp links get a reference token in their prefilled text before
    /// the browser follows them (the shell writes the text into the link);
    /// the event's target is the page's link, the token travels beside it.
    fn clicked(&mut self, c: &Call<'_>) {
        if !walink::is_chat(c.arg(1), c.arg(2)) || !self.allowed {
            return;
        }
        let token = self.random_id(reference::TOKEN_PREFIX, reference::TOKEN_BYTES);
        crate::decorate(&walink::decorate_text(c.arg(3), &token));
        let target = truncate(c.arg(0).to_owned(), MAX_URL_LEN);
        self.track(data("whatsapp_click", |o| {
            o.str("target", &target);
            o.str("reference", &token);
        }));
    }

    fn focus_changed(&mut self) {
        let (now, visible, focused) = (
            self.now(),
            self.n(N_VISIBLE) == 1.0,
            self.n(N_FOCUSED) == 1.0,
        );
        if let Some(d) = self.page.dwell.as_mut() {
            d.set_state(now, visible, focused);
        }
    }

    /// Sends engaged time not yet reported (heartbeat, hide, leave).
    fn report_engagement(&mut self) {
        // Focus can change without an event (a popup): the call carries it.
        self.focus_changed();
        let now = self.now();
        if let Some((engaged_ms, total_ms)) =
            self.page.dwell.as_mut().and_then(|d| d.take_report(now))
        {
            self.track(data("engagement", |o| {
                o.int("engaged_ms", engaged_ms as i64);
                o.int("total_ms", total_ms as i64);
            }));
        }
    }

    /// Scroll metrics read by the shell once per animation frame (and on
    /// leaving): numbers are scrollY, innerHeight, the document's
    /// scrollHeight, whether it has loaded (late content counts), then
    /// scrollTop, clientHeight, scrollHeight of each marked container that
    /// scrolled, whose names are the texts. Announces new milestones.
    fn measure(&mut self, c: &Call<'_>) {
        let containers = c.texts.len().saturating_sub(c.base);
        // The document (named "", once it has loaded), then each marked
        // container.
        for i in 0..=containers {
            let name = match i {
                0 if self.n(N_OP + 3) == 1.0 => String::new(),
                0 => continue,
                _ => match slug(c.arg(i - 1)) {
                    Some(n) => n,
                    None => continue,
                },
            };
            let at = if i == 0 { N_OP } else { N_OP + 1 + 3 * i };
            let pct = depth_pct(self.n(at), self.n(at + 1), self.n(at + 2));
            let depths = &mut self.page.depths;
            let mut k = 0;
            while k < depths.len() && depths[k].0 != name {
                k += 1;
            }
            if k == depths.len() {
                depths.push((name.clone(), ScrollDepth::default()));
            }
            let Some((_, depth)) = depths.get_mut(k) else {
                continue;
            };
            let news = depth.observe(pct);
            let max = depth.max;
            if news != 0 {
                depth.reported = max;
            }
            for m in milestones(news) {
                self.scroll(max, Some(m), &name);
            }
        }
    }

    // ---- events and delivery

    fn session_id(&mut self) -> String {
        let now = self.now();
        let prev = Session::parse(&self.get(KEY_SESSION));
        let session = Session::touch(prev, now, || self.random_id("s", 8));
        self.set(KEY_SESSION, &session.store());
        session.id
    }

    fn search(&mut self, query: &str) {
        self.track(data("search", |o| o.str("query", query)));
    }

    /// A scroll depth (of a marked container when `container` is not empty).
    fn scroll(&mut self, depth_pct: u8, milestone: Option<u8>, container: &str) {
        self.track(data("scroll", |o| {
            o.int("depth_pct", depth_pct as i64);
            if let Some(m) = milestone {
                o.int("milestone", m as i64);
            }
            o.text("container", container);
        }));
    }

    /// Queues one event (its `data` object as JSON), stamped with ids, time
    /// and sequence; nothing at all happens while tracking is not allowed.
    fn track(&mut self, data: String) {
        if !self.allowed {
            return;
        }
        let session_id = self.session_id();
        self.seq = self.seq.wrapping_add(1);
        self.set(KEY_SEQ, &number(self.seq as u64));
        // Only a page view carries the referrer.
        let referrer = &self.page.referrer;
        let referrer = (data.starts_with("{\"kind\":\"page_view\"") && has(referrer, b':'))
            .then(|| truncate(referrer.clone(), MAX_URL_LEN));
        let event_id = self.random_id("e", 8);
        let url = truncate(self.page.url.clone(), MAX_URL_LEN);
        let envelope = Envelope {
            schema: SCHEMA_VERSION,
            site_id: &self.site_id,
            visitor_id: &self.visitor_id,
            session_id: &session_id,
            event_id: &event_id,
            ts: self.now() as i64,
            seq: self.seq,
            url: &url,
            referrer: &referrer,
        };
        let event = write_event(&envelope, &data);
        self.pending.push(event);
        if self.pending.len() >= FLUSH_AT_EVENTS {
            self.flush(self.n(N_VISIBLE) != 1.0);
        } else {
            self.schedule_flush();
        }
    }

    fn schedule_flush(&mut self) {
        if !self.flush_timer {
            self.flush_timer = true;
            self.timer(T_FLUSH, FLUSH_DELAY_MS);
        }
    }

    fn queued(&self) -> bool {
        !self.get(KEY_QUEUE).is_empty()
    }

    /// Sends everything pending (and, when the page is live and no retry is
    /// waiting, the retry queue first); `on_hide` asks for sendBeacon.
    fn flush(&mut self, on_hide: bool) {
        self.clear_timer(T_FLUSH);
        if !self.allowed {
            self.pending.clear();
            return;
        }
        let mut events = Vec::new();
        if !on_hide && !self.retry_timer {
            let q = self.get(KEY_QUEUE);
            if !q.is_empty() {
                events = delivery::load_queue(&q);
                self.remove(KEY_QUEUE);
            }
        }
        events.append(&mut self.pending);
        if events.is_empty() {
            return;
        }
        // The shell keeps each body's events until its response, and hands
        // them back with it: a body the collector could not take is queued.
        bodies(&events, self.now(), |body, group| {
            crate::send(on_hide, &body, &group)
        });
    }

    /// A body's fate: the number is the response status (0: a network
    /// error), the text the body's events, one per line.
    fn sent(&mut self, c: &Call<'_>) {
        let status = self.n(N_OP);
        let status = (100.0..600.0).contains(&status).then_some(status as u16);
        match outcome(status) {
            Outcome::Done => {
                self.attempt = 0;
                if self.queued() && !self.retry_timer {
                    self.schedule_flush();
                }
            }
            // The collector will never take this body: it is dropped.
            Outcome::Drop => {}
            Outcome::Retry => {
                if !self.allowed {
                    return;
                }
                self.requeue(delivery::load_queue(c.arg(0)));
                if !self.retry_timer {
                    let random = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64;
                    let delay = backoff_ms(self.attempt, random);
                    self.attempt = self.attempt.saturating_add(1);
                    self.retry_timer = true;
                    self.timer(T_RETRY, delay);
                }
            }
        }
    }

    /// Puts events back into the retry queue (bounded; the oldest are dropped
    /// and counted).
    fn requeue(&mut self, events: Vec<String>) {
        let mut q = delivery::load_queue(&self.get(KEY_QUEUE));
        let dropped = delivery::enqueue(&mut q, events);
        self.set(KEY_QUEUE, &delivery::store_queue(&q));
        if dropped > 0 {
            let before = stored_u32(&self.get(KEY_DROPPED)).unwrap_or(0);
            self.set(KEY_DROPPED, &number(before.saturating_add(dropped) as u64));
        }
    }
}
