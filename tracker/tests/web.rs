//! The tracker in a real browser (headless Chromium via wasm-bindgen-test).
//!
//! The tests drive the tracker as a page does: `start` (what the loader
//! calls) boots the real shell (`src/shell.js`, the same module the page gets)
//! with a wasm core, and `command` is `touchline(name, arg)`. All tests share
//! one page, so each starts from a clean slate (`fresh`): the page's tracker
//! stopped, localStorage cleared, the network replaced by a recorder (what the
//! tracker *sends* is what these tests look at), and the clock faked where
//! time matters.
#![cfg(target_arch = "wasm32")]

use js_sys::{Function, Reflect, JSON};
use touchline_shared::limits::{MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH};
use touchline_shared::reference;
use touchline_tracker::{stop, transport};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing listens here; the recorder catches requests before they leave.
const ENDPOINT: &str = "http://127.0.0.1:9/v1/collect";
const DAY_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

fn js(body: &str) -> JsValue {
    Function::new_no_args(body)
        .call0(&JsValue::NULL)
        .expect("test helper script")
}

fn window() -> web_sys::Window {
    web_sys::window().expect("window")
}

fn document() -> web_sys::Document {
    window().document().expect("document")
}

fn storage() -> web_sys::Storage {
    window().local_storage().expect("ls").expect("ls")
}

fn set_url(query: &str) {
    let path = window().location().pathname().expect("path");
    window()
        .history()
        .expect("history")
        .replace_state_with_url(&JsValue::NULL, "", Some(&format!("{path}{query}")))
        .expect("replaceState");
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).expect("set");
    }
    o.into()
}

/// Installs the test harness once: a network recorder (fetch and
/// sendBeacon), a fake clock (`Date.now`), and switches for visibility,
/// focus and Do-Not-Track.
fn harness() {
    js(r#"
      if (window.__h) return;
      window.__h = true;
      window.__sent = [];
      window.__now = null;
      const realNow = Date.now;
      Date.now = () => (window.__now === null ? realNow() : window.__now);
      navigator.sendBeacon = (url, body) => { __sent.push(String(body)); return true; };
      window.__status = 200;
      window.fetch = (url, init) => { __sent.push(String(init && init.body)); return Promise.resolve(new Response('{}', { status: __status })); };
      window.__hidden = false;
      window.__focused = true;
      window.__dnt = null;
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (__hidden ? 'hidden' : 'visible') });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => __hidden });
      document.hasFocus = () => __focused;
      Object.defineProperty(navigator, 'doNotTrack', { configurable: true, get: () => __dnt });
    "#);
}

/// A clean slate: no tracker, empty storage and recorder, real visibility,
/// focus and clock, no test elements.
fn fresh() {
    harness();
    stop();
    storage().clear().expect("clear");
    js(r#"
      __sent.length = 0; __now = null; __hidden = false; __focused = true; __dnt = null; __status = 200;
      document.querySelectorAll('[data-test]').forEach((e) => e.remove());
      scrollTo(0, 0);
    "#);
    set_url("");
}

fn set_now(ms: f64) {
    Reflect::set(&window(), &"__now".into(), &ms.into()).expect("set now");
}

fn set_hidden(hidden: bool) {
    Reflect::set(&window(), &"__hidden".into(), &hidden.into()).expect("set");
    document()
        .dispatch_event(&web_sys::Event::new("visibilitychange").expect("event"))
        .expect("dispatch");
}

fn set_focused(focused: bool) {
    Reflect::set(&window(), &"__focused".into(), &focused.into()).expect("set");
    let kind = if focused { "focus" } else { "blur" };
    window()
        .dispatch_event(&web_sys::Event::new(kind).expect("event"))
        .expect("dispatch");
}

fn dispatch_window(kind: &str) {
    window()
        .dispatch_event(&web_sys::Event::new(kind).expect("event"))
        .expect("dispatch");
}

/// Adds test markup to the body (removed by `fresh`).
fn add(html: &str) -> web_sys::Element {
    let holder = document().create_element("div").expect("div");
    holder.set_attribute("data-test", "").expect("attr");
    holder.set_inner_html(html);
    document()
        .body()
        .expect("body")
        .append_child(&holder)
        .expect("append");
    holder
}

fn add_meta(name: &str, content: &str) {
    let m = document().create_element("meta").expect("meta");
    m.set_attribute("data-test", "").expect("attr");
    m.set_attribute("name", name).expect("attr");
    m.set_attribute("content", content).expect("attr");
    document()
        .head()
        .expect("head")
        .append_child(&m)
        .expect("append");
}

/// `touchline(name, arg)`.
fn command(name: JsValue, arg: JsValue) {
    touchline_tracker::command(&name, &arg);
}

/// Starts the page's tracker for site `demo` with `data-*` options.
fn start_with(options: &[(&str, &str)]) {
    let mut opts = format!("{ENDPOINT}\x1fdemo");
    for (k, v) in options {
        opts.push_str(&format!("\x1f{k}\x1f{v}"));
    }
    touchline_tracker::bind_for_tests();
    touchline_tracker::start(&opts);
}

/// Every event the tracker has sent (flushing what is pending first), as
/// parsed JSON objects in order.
fn sent() -> Vec<JsValue> {
    command("flush".into(), JsValue::UNDEFINED);
    let bodies = js_sys::Array::from(&Reflect::get(&window(), &"__sent".into()).expect("sent"));
    let mut out = Vec::new();
    for body in bodies.iter() {
        let parsed = JSON::parse(&body.as_string().expect("text body")).expect("JSON body");
        let events = Reflect::get(&parsed, &"events".into()).expect("events");
        out.extend(js_sys::Array::from(&events).iter());
    }
    out
}

/// Every event sent so far, pending ones flushed (for waiting).
fn recorded() -> Vec<JsValue> {
    sent()
}

fn any_recorded(f: impl Fn(&JsValue) -> bool) -> bool {
    recorded().iter().any(f)
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| {
        Reflect::get(&v, &k.into()).unwrap_or(JsValue::UNDEFINED)
    })
}

fn kind(e: &JsValue) -> String {
    get(e, "data.kind").as_string().unwrap_or_default()
}

fn of_kind(events: &[JsValue], k: &str) -> Vec<JsValue> {
    events.iter().filter(|e| kind(e) == k).cloned().collect()
}

async fn pause(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("setTimeout");
    });
    JsFuture::from(p).await.expect("timeout");
}

async fn frames(n: u32) {
    for _ in 0..n {
        let p = js_sys::Promise::new(&mut |resolve, _| {
            window().request_animation_frame(&resolve).expect("rAF");
        });
        JsFuture::from(p).await.expect("frame");
    }
}

/// Polls until `cond` holds, failing after `deadline_ms`.
async fn wait_for(what: &str, deadline_ms: f64, mut cond: impl FnMut() -> bool) {
    let start = js_sys::Date::now();
    while !cond() {
        assert!(
            js_sys::Date::now() - start < deadline_ms,
            "timed out waiting for {what}"
        );
        pause(10).await;
    }
}

#[wasm_bindgen_test]
fn page_view_carries_attribution_from_the_landing_url() {
    fresh();
    set_url("?utm_source=ig&utm_campaign=reel%20drop&igshid=abc123");
    start_with(&[]);
    let e = sent()[0].clone();
    assert_eq!(kind(&e), "page_view");
    let text = |path: &str| get(&e, path).as_string();
    assert_eq!(
        text("data.attribution.utm_campaign").as_deref(),
        Some("reel drop")
    );
    assert_eq!(text("data.attribution.igshid").as_deref(), Some("abc123"));
    assert_eq!(
        text("data.attribution.referrer_class").as_deref(),
        Some("instagram")
    );
    assert!(text("url")
        .expect("url")
        .ends_with("?utm_source=ig&utm_campaign=reel%20drop&igshid=abc123"));
    assert_eq!(text("site_id").as_deref(), Some("demo"));
    assert_eq!(text("event_id").expect("event id").len(), 17);
    stop();
}

#[wasm_bindgen_test]
fn visitor_id_persists_across_trackers_and_renews_when_storage_is_cleared() {
    fresh();
    let visitor = || {
        stop();
        js("__sent.length = 0");
        start_with(&[]);
        let v = get(&sent()[0], "visitor_id").as_string().expect("visitor");
        stop();
        v
    };
    let a = visitor();
    let b = visitor();
    assert_eq!(a, b);
    assert_eq!(
        storage().get_item("tl_vid").expect("get").as_deref(),
        Some(a.as_str())
    );
    storage().remove_item("tl_vid").expect("remove");
    let c = visitor();
    assert_ne!(a, c);
    assert_eq!(c.len(), 33);
}

#[wasm_bindgen_test]
fn events_share_the_session_and_number_themselves() {
    fresh();
    start_with(&[]);
    command("page_view".into(), JsValue::UNDEFINED);
    command("checkout".into(), obj(&[("step", "address".into())]));
    let p = sent();
    let (a, b) = (&p[p.len() - 2], &p[p.len() - 1]);
    assert_eq!(get(a, "session_id"), get(b, "session_id"));
    assert_eq!(
        get(b, "seq").as_f64(),
        get(a, "seq").as_f64().map(|s| s + 1.0)
    );
    assert_ne!(get(a, "event_id"), get(b, "event_id"));
    assert_eq!(kind(b), "checkout_step");
    assert_eq!(get(b, "data.step").as_string().as_deref(), Some("address"));
    stop();
}

#[wasm_bindgen_test]
fn order_command_normalises_currency_and_payment_and_is_sent_at_once() {
    fresh();
    start_with(&[]);
    let before = js_sys::Array::from(&get(&window(), "__sent")).length();
    command(
        "order".into(),
        obj(&[
            ("id", "ORD-1".into()),
            ("value", 1499.5.into()),
            ("currency", "inr".into()),
            ("payment", "COD".into()),
        ]),
    );
    assert!(
        js_sys::Array::from(&get(&window(), "__sent")).length() > before,
        "an order does not wait for the batch timer"
    );
    let order = of_kind(&sent(), "order").pop().expect("order sent");
    assert_eq!(
        get(&order, "data.order_id").as_string().as_deref(),
        Some("ORD-1")
    );
    assert_eq!(get(&order, "data.value").as_f64(), Some(1499.5));
    assert_eq!(
        get(&order, "data.currency").as_string().as_deref(),
        Some("INR")
    );
    assert_eq!(
        get(&order, "data.payment_method").as_string().as_deref(),
        Some("cod")
    );
    stop();
}

#[wasm_bindgen_test]
async fn scrolling_a_tall_page_to_80_percent_gives_max_80_and_milestones_25_50_75_once() {
    fresh();
    add(r#"<div style="height:10000px">tall</div>"#);
    start_with(&[]);
    let scroll_to_seen = |pct: f64| {
        let height = document().document_element().expect("html").scroll_height() as f64;
        let inner = window().inner_height().expect("h").as_f64().expect("h");
        window().scroll_to_with_x_and_y(0.0, height * pct / 100.0 - inner);
    };
    scroll_to_seen(55.0);
    frames(2).await;
    scroll_to_seen(80.0);
    wait_for("the 75 % milestone", 3_000.0, || {
        any_recorded(|e| kind(e) == "scroll" && get(e, "data.milestone").as_f64() == Some(75.0))
    })
    .await;
    // Back up and down again: nothing is announced twice.
    scroll_to_seen(30.0);
    frames(2).await;
    scroll_to_seen(80.0);
    frames(2).await;
    dispatch_window("pagehide");
    let scrolls = of_kind(&sent(), "scroll");
    let milestones: Vec<f64> = scrolls
        .iter()
        .filter_map(|e| get(e, "data.milestone").as_f64())
        .collect();
    assert_eq!(milestones, [25.0, 50.0, 75.0]);
    let max = scrolls
        .iter()
        .filter_map(|e| get(e, "data.depth_pct").as_f64())
        .fold(0.0, f64::max);
    assert_eq!(max, 80.0);
    assert!(scrolls
        .iter()
        .all(|e| get(e, "data.container").is_undefined()));
    stop();
}

#[wasm_bindgen_test]
async fn a_marked_scrollable_container_reports_its_own_depth() {
    fresh();
    let holder = add(
        r#"<div data-touchline-scroll="reviews" style="height:200px;overflow:auto"><div style="height:2000px">reviews</div></div>"#,
    );
    start_with(&[]);
    let box_ = holder.first_element_child().expect("box");
    box_.set_scroll_top(1800);
    let in_box = |e: &JsValue| get(e, "data.container").as_string().as_deref() == Some("reviews");
    wait_for("the container's 100 % milestone", 3_000.0, || {
        any_recorded(|e| in_box(e) && get(e, "data.milestone").as_f64() == Some(100.0))
    })
    .await;
    let milestones: Vec<f64> = of_kind(&sent(), "scroll")
        .iter()
        .filter(|e| in_box(e))
        .filter_map(|e| get(e, "data.milestone").as_f64())
        .collect();
    assert_eq!(milestones, [25.0, 50.0, 75.0, 90.0, 100.0]);
    stop();
}

#[wasm_bindgen_test]
fn a_hidden_or_unfocused_tab_accrues_no_dwell() {
    fresh();
    let t0 = 1_764_000_000_000.0;
    set_now(t0);
    start_with(&[]);
    // Hidden for 20 s, with activity: nothing counts.
    set_hidden(true);
    set_now(t0 + 10_000.0);
    dispatch_window("keydown");
    set_now(t0 + 20_000.0);
    // Visible but unfocused for 20 s, with activity: nothing counts.
    set_focused(false);
    set_hidden(false);
    set_now(t0 + 30_000.0);
    dispatch_window("keydown");
    set_now(t0 + 40_000.0);
    dispatch_window("pagehide");
    assert!(
        of_kind(&sent(), "engagement").is_empty(),
        "no engaged time while hidden or unfocused"
    );
    // Visible, focused and active for 5 s: exactly 5 s.
    set_focused(true);
    set_now(t0 + 45_000.0);
    dispatch_window("pagehide");
    let e = of_kind(&sent(), "engagement");
    assert_eq!(e.len(), 1);
    assert_eq!(get(&e[0], "data.engaged_ms").as_f64(), Some(5_000.0));
    assert_eq!(get(&e[0], "data.total_ms").as_f64(), Some(5_000.0));
    stop();
}

#[wasm_bindgen_test]
fn engaged_time_stops_thirty_seconds_after_the_last_activity() {
    fresh();
    let t0 = 1_764_000_000_000.0;
    set_now(t0);
    start_with(&[]);
    set_now(t0 + 10_000.0);
    dispatch_window("pointerdown");
    set_now(t0 + 120_000.0);
    set_hidden(true); // a tab switch reports what was engaged
    let e = of_kind(&sent(), "engagement");
    assert_eq!(e.len(), 1);
    assert_eq!(get(&e[0], "data.engaged_ms").as_f64(), Some(40_000.0));
    stop();
}

#[wasm_bindgen_test]
fn two_pricing_visits_across_reloads_count_2_and_a_third_after_8_days_counts_1() {
    fresh();
    add_meta("touchline:page", "pricing");
    let t0 = 1_764_000_000_000.0;
    let count = |at: f64| {
        set_now(at);
        stop(); // a reload: a new tracker, the same localStorage
        js("__sent.length = 0");
        start_with(&[]);
        let p = of_kind(&sent(), "pricing_view");
        assert_eq!(p.len(), 1);
        get(&p[0], "data.count_7d").as_f64()
    };
    assert_eq!(count(t0), Some(1.0));
    assert_eq!(count(t0 + DAY_MS), Some(2.0));
    assert_eq!(count(t0 + 9.0 * DAY_MS), Some(1.0));
    stop();
}

#[wasm_bindgen_test]
fn pricing_pages_are_recognised_by_a_configured_url_pattern() {
    fresh();
    let path = window().location().pathname().expect("path");
    start_with(&[("pricing", &format!("{path}*"))]);
    assert_eq!(of_kind(&sent(), "pricing_view").len(), 1);
    stop();
}

#[wasm_bindgen_test]
fn product_pages_emit_product_views_and_a_second_product_shows_a_comparison() {
    fresh();
    add_meta("touchline:page", "product");
    add_meta("touchline:sku", "KURTA-001");
    add_meta("touchline:product-name", "Cotton Kurta");
    add_meta("touchline:price", "1499");
    add_meta("touchline:currency", "inr");
    start_with(&[]);
    command(
        "product".into(),
        obj(&[("sku", "SAREE-002".into()), ("price", 4999.into())]),
    );
    let p = of_kind(&sent(), "product_view");
    assert_eq!(p.len(), 2);
    assert_eq!(
        get(&p[0], "data.sku").as_string().as_deref(),
        Some("KURTA-001")
    );
    assert_eq!(get(&p[0], "data.price").as_f64(), Some(1499.0));
    assert_eq!(
        get(&p[0], "data.currency").as_string().as_deref(),
        Some("INR")
    );
    assert_eq!(get(&p[0], "data.distinct_in_session").as_f64(), Some(1.0));
    assert_eq!(get(&p[1], "data.distinct_in_session").as_f64(), Some(2.0));
    stop();
}

#[wasm_bindgen_test]
async fn a_checkout_section_becoming_visible_emits_its_step_once() {
    fresh();
    let holder = add(
        r#"<div style="height:5000px">spacer</div><section data-touchline-step="address">address</section><div style="height:2000px"></div>"#,
    );
    start_with(&[]);
    frames(3).await;
    assert!(
        !any_recorded(|e| kind(e) == "checkout_step"),
        "not shown yet"
    );
    let section = holder
        .query_selector("section")
        .expect("query")
        .expect("section");
    section.scroll_into_view();
    wait_for("the address step", 3_000.0, || {
        any_recorded(|e| kind(e) == "checkout_step")
    })
    .await;
    window().scroll_to_with_x_and_y(0.0, 0.0);
    frames(3).await;
    section.scroll_into_view();
    frames(3).await;
    let steps = of_kind(&sent(), "checkout_step");
    assert_eq!(steps.len(), 1);
    stop();
}

#[wasm_bindgen_test]
fn a_submitted_checkout_form_and_the_js_api_emit_steps() {
    fresh();
    let holder = add(
        r#"<form data-touchline-step="payment" action="javascript:void 0"><button>Pay</button></form>"#,
    );
    start_with(&[]);
    let form = holder.query_selector("form").expect("q").expect("form");
    form.add_event_listener_with_callback(
        "submit",
        &Function::new_with_args("e", "e.preventDefault()"),
    )
    .expect("listener");
    form.dispatch_event(&web_sys::Event::new("submit").expect("event"))
        .expect("dispatch");
    command("checkout".into(), obj(&[("step", "Address".into())]));
    let steps: Vec<String> = of_kind(&sent(), "checkout_step")
        .iter()
        .filter_map(|e| get(e, "data.step").as_string())
        .collect();
    assert_eq!(steps, ["payment", "address"]);
    stop();
}

#[wasm_bindgen_test]
fn a_whatsapp_click_carries_a_token_in_the_prefilled_text() {
    fresh();
    let holder = add(
        r#"<a href="https://wa.me/919800000000?text=Is%20COD%20available%3F"><span>Ask on WhatsApp</span></a>"#,
    );
    let link = holder.query_selector("a").expect("q").expect("a");
    // The test page must not navigate away.
    link.add_event_listener_with_callback(
        "click",
        &Function::new_with_args("e", "e.preventDefault()"),
    )
    .expect("listener");
    start_with(&[]);
    let span: web_sys::HtmlElement = link
        .first_element_child()
        .expect("span")
        .dyn_into()
        .expect("html");
    span.click();
    let href = link.get_attribute("href").expect("href");
    assert!(
        href.starts_with("https://wa.me/919800000000?text=Is%20COD%20available%3F%20%5Bref%3Atl-"),
        "{href}"
    );
    let click = of_kind(&sent(), "whatsapp_click")
        .pop()
        .expect("a whatsapp_click");
    let token = get(&click, "data.reference")
        .as_string()
        .expect("reference");
    // The event names the link as the page wrote it; the token goes beside it.
    let original = "https://wa.me/919800000000?text=Is%20COD%20available%3F";
    assert_eq!(
        get(&click, "data.target").as_string().as_deref(),
        Some(original)
    );
    let text = js_sys::decode_uri_component(href.split("text=").nth(1).expect("text"))
        .expect("decode")
        .as_string()
        .expect("text");
    assert_eq!(reference::find_tokens(&text), std::slice::from_ref(&token));
    assert!((token.len() - 3) * 4 >= 40, "at least 40 random bits");
    // A second click replaces the token rather than stacking another.
    span.click();
    let href2 = link.get_attribute("href").expect("href");
    let text2 = js_sys::decode_uri_component(href2.split("text=").nth(1).expect("text"))
        .expect("decode")
        .as_string()
        .expect("text");
    assert_eq!(reference::find_tokens(&text2).len(), 1);
    let clicks = of_kind(&sent(), "whatsapp_click");
    let second = clicks.last().expect("the second click");
    assert_eq!(
        get(second, "data.target").as_string().as_deref(),
        Some(original)
    );
    assert_ne!(get(second, "data.reference").as_string(), Some(token));
    stop();
}

#[wasm_bindgen_test]
fn site_search_parameters_emit_search_events() {
    fresh();
    set_url("?q=silk+saree+discount");
    start_with(&[]);
    let s = of_kind(&sent(), "search");
    assert_eq!(s.len(), 1);
    assert_eq!(
        get(&s[0], "data.query").as_string().as_deref(),
        Some("silk saree discount")
    );
    stop();
}

#[wasm_bindgen_test]
fn single_page_navigations_are_page_views_with_the_previous_url_as_referrer() {
    fresh();
    start_with(&[]);
    let first = window().location().href().expect("href");
    window()
        .history()
        .expect("history")
        .push_state_with_url(&JsValue::NULL, "", Some("?view=2"))
        .expect("pushState");
    let second = window().location().href().expect("href");
    window().location().set_hash("reviews").expect("hash");
    dispatch_window("hashchange");
    window()
        .history()
        .expect("history")
        .replace_state_with_url(&JsValue::NULL, "", Some("?view=2#reviews"))
        .expect("replaceState to the same URL");
    let views = of_kind(&sent(), "page_view");
    let urls: Vec<String> = views
        .iter()
        .filter_map(|e| get(e, "url").as_string())
        .collect();
    assert_eq!(urls.len(), 3, "{urls:?}");
    assert_eq!(urls[1], second);
    assert_eq!(get(&views[1], "referrer").as_string(), Some(first));
    assert_eq!(get(&views[2], "referrer").as_string(), Some(second));
    assert!(
        get(&views[1], "data.attribution").is_undefined(),
        "internal navigation carries no campaign"
    );
    stop();
}

#[wasm_bindgen_test]
async fn a_checkout_section_rendered_after_a_single_page_navigation_emits_its_step() {
    fresh();
    start_with(&[]);
    window()
        .history()
        .expect("history")
        .push_state_with_url(&JsValue::NULL, "", Some("?route=address"))
        .expect("pushState");
    // The app renders the new route after pushing its URL.
    add(r#"<section data-touchline-step="address">address form</section>"#);
    wait_for("the address step", 3_000.0, || {
        any_recorded(|e| {
            kind(e) == "checkout_step"
                && get(e, "data.step").as_string().as_deref() == Some("address")
        })
    })
    .await;
    stop();
}

#[wasm_bindgen_test]
async fn identify_sends_only_sha256_of_the_normalised_email_and_phone() {
    fresh();
    start_with(&[("phone-country", "91")]);
    command("identify".into(), " Priya@Example.com ".into());
    command("identify".into(), obj(&[("phone", "098000 00000".into())]));
    wait_for("two identify events", 3_000.0, || {
        of_kind(&recorded(), "identify").len() == 2
    })
    .await;
    let ids = of_kind(&sent(), "identify");
    assert_eq!(
        get(&ids[0], "data.email_sha256").as_string().as_deref(),
        Some("6bdb7e961d54ddc243ec721e6e211ac0a179b19a9ce2ad52a418198e146e69fe")
    );
    assert_eq!(
        get(&ids[1], "data.phone_sha256").as_string().as_deref(),
        Some("813eb6d8bee9d5334442bab034225e4974dfee066e7f13e0f1d73258536bb808")
    );
    let everything = format!(
        "{:?}{:?}",
        js("return JSON.stringify(__sent)").as_string(),
        js("return JSON.stringify(localStorage)").as_string()
    )
    .to_lowercase();
    assert!(!everything.contains("priya"), "the raw email never leaves");
    assert!(
        !everything.contains("9800000000\""),
        "the raw phone never leaves"
    );
    stop();
}

#[wasm_bindgen_test]
fn consent_denied_sends_and_stores_nothing() {
    fresh();
    start_with(&[("require-consent", "true")]);
    command("checkout".into(), obj(&[("step", "address".into())]));
    command("identify".into(), "priya@example.com".into());
    command("consent".into(), "denied".into());
    command(
        "order".into(),
        obj(&[
            ("id", "O1".into()),
            ("value", 1.into()),
            ("currency", "INR".into()),
        ]),
    );
    assert!(sent().is_empty(), "nothing sent");
    let keys: Vec<String> = (0..storage().length().expect("len"))
        .filter_map(|i| storage().key(i).expect("key"))
        .collect();
    assert_eq!(keys, ["tl_consent"], "only the choice itself is kept");
    // A later grant starts tracking from this page on.
    command("consent".into(), "granted".into());
    assert_eq!(of_kind(&sent(), "page_view").len(), 1);
    stop();
}

#[wasm_bindgen_test]
fn do_not_track_is_honoured_by_default_and_can_be_configured_off() {
    fresh();
    js("__dnt = '1'");
    start_with(&[]);
    assert!(sent().is_empty());
    assert_eq!(storage().length().expect("len"), 0, "nothing stored");
    stop();
    start_with(&[("respect-dnt", "false")]);
    assert_eq!(of_kind(&sent(), "page_view").len(), 1);
    stop();
}

#[wasm_bindgen_test]
fn garbage_passed_to_every_public_call_throws_nothing() {
    fresh();
    let garbage = [
        JsValue::NULL,
        JsValue::UNDEFINED,
        JsValue::from(42),
        JsValue::from(f64::NAN),
        JsValue::from_str(""),
        JsValue::from_str("\u{0}\u{ffff}"),
        js_sys::Array::new().into(),
        js_sys::Symbol::for_("x").into(),
        obj(&[("id", JsValue::NULL), ("value", "lots".into())]),
        obj(&[
            ("id", "x".into()),
            ("value", f64::INFINITY.into()),
            ("currency", "€€€€".into()),
        ]),
        obj(&[("step", js_sys::Object::new().into()), ("sku", "".into())]),
        obj(&[
            ("email", 5.into()),
            ("phone", "+++".into()),
            ("query", JsValue::NULL),
        ]),
    ];
    let names = [
        "order",
        "checkout",
        "page_view",
        "flush",
        "consent",
        "identify",
        "product",
        "search",
        "nonsense",
        "",
    ];
    // Before start, after start, and with every command name.
    for round in 0..2 {
        for name in names {
            for arg in &garbage {
                command(JsValue::from_str(name), arg.clone());
                command(arg.clone(), arg.clone());
            }
        }
        if round == 0 {
            for opts in [
                "",
                "\u{0}\u{ffff}",
                "\x1f",
                "\x1f\x1f\x1f",
                ENDPOINT,
                "x\x1f",
            ] {
                touchline_tracker::start(opts);
            }
            start_with(&[
                ("idle-ms", "lots"),
                ("checkout", "=,a=,=b"),
                ("pricing", ""),
            ]);
        }
    }
    // The core itself, with every operation and nonsense texts and numbers
    // (a garbage START replaces the page's tracker, so it starts again after).
    let texts = [
        "",
        "\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1f",
        "\u{0}\x1e\u{ffff}",
    ];
    let nums: [&[f64]; 3] = [&[], &[f64::NAN; 20], &[-1.0e308, f64::INFINITY, 1.0, 0.5]];
    for op in 0..20 {
        for t in texts {
            for n in nums {
                touchline_tracker::on_with_numbers(op, t, n);
            }
        }
    }
    stop();
    start_with(&[]);
    let before = of_kind(&sent(), "order").len();
    command(
        "order".into(),
        obj(&[("id", JsValue::NULL), ("value", "lots".into())]),
    );
    assert_eq!(
        of_kind(&sent(), "order").len(),
        before,
        "a malformed order is not tracked"
    );
    stop();
}

#[wasm_bindgen_test]
async fn server_errors_are_queued_for_retry_and_client_errors_are_dropped() {
    fresh();
    start_with(&[]);
    let queue = || storage().get_item("tl_q").expect("get").unwrap_or_default();
    js("__status = 503");
    command("checkout".into(), "address".into());
    command("flush".into(), JsValue::UNDEFINED);
    wait_for("the failed batch in the retry queue", 3_000.0, || {
        queue().contains("\"address\"")
    })
    .await;
    // The collector refuses the body as it is (400): not retried, not kept.
    js("__status = 400");
    let sends = js_sys::Array::from(&get(&window(), "__sent")).length();
    dispatch_window("online"); // back online: the queue goes now
    wait_for("the retry", 3_000.0, || {
        js_sys::Array::from(&get(&window(), "__sent")).length() > sends
    })
    .await;
    wait_for("the response", 3_000.0, || !queue().contains("address")).await;
    frames(2).await;
    assert_eq!(queue(), "", "a 400 is not queued again");
    stop();
}

#[wasm_bindgen_test]
fn batches_are_split_under_the_body_and_count_limits_and_lose_nothing() {
    fresh();
    set_url(&format!("?pad={}", "x".repeat(1800)));
    start_with(&[]);
    let one = sent()[0].clone();
    stop();
    set_url("");
    let events: Vec<String> = (0..250)
        .map(|i| {
            Reflect::set(&one, &"event_id".into(), &format!("e{i}").into()).expect("set");
            JSON::stringify(&one)
                .expect("JSON")
                .as_string()
                .expect("text")
        })
        .collect();
    assert!(events[0].len() > 1800);
    let mut bodies = Vec::new();
    transport::bodies(&events, js_sys::Date::now(), |b, g| bodies.push((b, g)));
    assert!(bodies.len() >= 3, "{} bodies", bodies.len());
    let mut total = 0;
    for (b, _) in &bodies {
        assert!(b.len() <= MAX_BODY_BYTES, "{} bytes", b.len());
        let parsed = JSON::parse(b).expect("valid JSON");
        let n = js_sys::Array::from(&get(&parsed, "events")).length() as usize;
        assert!(n <= MAX_EVENTS_PER_BATCH);
        total += n;
    }
    assert_eq!(total, events.len());
}

/// The wasm heap of a long session stays flat: after a warm-up, thousands
/// more events, navigations and sends grow the memory by at most one page
/// (a leak of 24 bytes per operation would take three).
#[wasm_bindgen_test]
fn a_long_session_keeps_the_wasm_memory_flat() {
    fresh();
    start_with(&[]);
    let memory = || {
        wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let history = window().history().expect("history");
    let session = |n: usize| {
        for i in 0..n {
            let sku = JsValue::from_str(["kurta", "saree", "dupatta"][i % 3]);
            command(
                "product".into(),
                obj(&[("sku", sku), ("price", 1299.into())]),
            );
            command("search".into(), "silk saree".into());
            let url = ["?p=1", "?p=2"][i % 2];
            history
                .push_state_with_url(&JsValue::NULL, "", Some(url))
                .expect("pushState");
            if i % 10 == 9 {
                command("flush".into(), JsValue::UNDEFINED);
                js("__sent.length = 0");
            }
        }
    };
    session(300);
    let before = memory();
    session(3_000);
    let after = memory();
    assert!(
        after <= before + 65_536,
        "wasm memory grew from {before} to {after} bytes"
    );
    stop();
    set_url("");
}
