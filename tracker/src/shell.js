// Touchline's browser shell: the imperative half of the tracker.
//
// It listens to the page and reports what happened to the wasm core
// (`on(op, texts)`; the core reads the call's numbers with `num` and the
// visitor's storage with `load`/`save`), and does what the core asks for:
// send, set a timer, measure on the next frame, observe checkout sections,
// decorate a clicked link, hash an identify value. It decides nothing
// itself. Every entry point is guarded: nothing here may throw into
// the host page. Hand-written ES2017; esbuild minifies it into t.js.
//
// Operations (the numbers in tracker/src/tracker.rs): 0 start, 1 command,
// 2 navigated, 3 shown from the back/forward cache, 4 hidden (pagehide),
// 5 visibility, 6 focus, 7 activity, 8 frame, 9 click, 10 step, 11 timer,
// 12 sent, 13 digest, 14 online.

var w = window;
var d = document;
var on; // calls the wasm core (see bind)
var nums = []; // the numbers of the call being made (see num)
var core; // a token while tracking runs: each boot gets a new one
var endpoint;
var undo = []; // functions that remove what boot added
var timers = {};
var frame = 0;
var dirty = []; // marked scroll containers that scrolled since the last frame
var observer;
var link; // the link of the click being handled
var hrefs = new WeakMap(); // decorated links: their hrefs as the page wrote them
var lastActivity = 0;
var SEP = '\x1f';
var ATTR = 'data-touchline-';

// Text for the core: strings without separators; integers as text.
function text(v) {
  return typeof v == 'string' ? v.replace(/[\x1c-\x1f]/g, ' ') : Number.isSafeInteger(v) ? '' + v : '';
}

function attr(el, name) {
  return (el && el.getAttribute && el.getAttribute(name) || '').trim();
}

function host(url) {
  try { return new URL(url).hostname; } catch (e) { return ''; }
}

function meta(name) {
  return attr(d.querySelector('meta[name="touchline:' + name + '"]'), 'content');
}

// Reports one operation with the page context.
function call(op, texts, extra) {
  if (!core) return;
  try {
    // The page context matters only to what may begin a page view (start,
    // commands, navigations, back/forward restores): not read on every
    // frame. Fresh entropy goes with those and with clicks (reference
    // tokens); in between, the core's generator runs on.
    var markup = op < 4;
    var el = markup && d.querySelector('[' + ATTR + 'sku]');
    var product = function (m, a) { return markup && (meta(m) || attr(el, ATTR + a)); };
    // (Every browser that runs WebAssembly has crypto.getRandomValues.)
    var r = markup || op == 9 ? crypto.getRandomValues(new Uint32Array(4)) : [];
    // The query string as the browser decodes it: pairs split by \x1c, key
    // and value by \x1d.
    var query = [];
    if (markup) new URLSearchParams(location.search).forEach(function (v, k) { query.push(text(k) + '\x1d' + text(v)); });
    nums = [
      Date.now(), d.visibilityState != 'hidden', d.hasFocus(), r[0], r[1], r[2], r[3],
      parseFloat(product('price', 'price')),
    ].concat(extra || []);
    on(op, (markup ? [
      location.href, location.pathname, d.referrer, d.title,
      meta('page'), product('sku', 'sku'), product('product-name', 'name'), product('currency', 'currency'),
      meta('checkout-step'), location.hostname, host(d.referrer),
    ].map(text).concat(query.join('\x1c')) : []).concat((texts || []).map(text)).join(SEP));
  } catch (e) { /* never into the page */ }
}

// What the core asks for during its call (the imports of tracker/src/lib.rs).
// Each only starts something whose outcome comes back later as an
// operation, and none may throw into the core.
function guard(f) {
  return function (a, b, c) {
    try { f(a, b, c); } catch (e) { /* a blocked or missing API: not tracked */ }
  };
}

// sendBeacon on hide (it survives unload); fetch keepalive otherwise or
// when the browser refuses the beacon.
// The body's events (one per line) go back to the core with the response,
// for the retry queue; a beacon the browser took has no outcome to report.
export var send = guard(function (beacon, body, events) {
  try {
    if (beacon && navigator.sendBeacon(endpoint, body)) return;
  } catch (e) { /* fall back to fetch */ }
  // The outcome goes to the core that sent the body (not to a later one).
  var sender = core;
  var done = function (status) { if (core == sender) call(12, [events], [status]); };
  fetch(endpoint, { method: 'POST', body: body, keepalive: true }).then(
    function (res) { done(res.status); },
    function () { done(0); });
});

export var timer = guard(function (id, ms) {
  clearTimeout(timers[id]);
  if (ms >= 0) timers[id] = setTimeout(call, ms, 11, 0, [id]);
});

// The clicked link gets the core's prefilled text (with its reference); the
// link as the page wrote it is kept for the next click's event.
export var decorate = guard(function (text) {
  if (!hrefs.has(link)) hrefs.set(link, link.href);
  var u = new URL(link.href);
  u.search = u.search.slice(1).split('&').filter(function (p) { return p && !/^text=/.test(p); })
    .concat('text=' + encodeURIComponent(text)).join('&');
  link.setAttribute('href', u.href);
});

export var digest = guard(function (kind, value) {
  var sender = core;
  crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)).then(function (buf) {
    var hex = '';
    new Uint8Array(buf).forEach(function (b) { hex += (b + 256).toString(16).slice(1); });
    if (core == sender) call(13, [kind, hex]);
  }, function () { /* no Web Crypto: not tracked */ });
});

// Metrics are read at most once per animation frame.
export var request = guard(function () {
  if (!frame) frame = requestAnimationFrame(measure);
});

function metrics(op) {
  var names = [];
  var values = [];
  try {
    values = [scrollY, innerHeight, d.documentElement.scrollHeight, d.readyState == 'complete'];
    dirty.forEach(function (el) {
      names.push(el.getAttribute(ATTR + 'scroll'));
      values.push(el.scrollTop, el.clientHeight, el.scrollHeight);
    });
  } catch (e) { /* measured as nothing */ }
  dirty = [];
  call(op, names, values);
}

function measure() {
  frame = 0;
  metrics(8);
}

// Checkout sections count when they are shown (forms when submitted).
export var observe = guard(function () {
  if (observer) observer.disconnect();
  observer = 0;
  var sections = [].filter.call(d.querySelectorAll('[' + ATTR + 'step]'), function (el) {
    return !/^form$/i.test(el.tagName);
  });
  if (!sections.length || !w.IntersectionObserver) return;
  observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      if (e.isIntersecting) call(10, [attr(e.target, ATTR + 'step')]);
    });
  });
  sections.forEach(function (el) { observer.observe(el); });
});

function activity() {
  var t = Date.now();
  // At most twice a second: mousemove fires a lot.
  if (t - lastActivity >= 500 || t < lastActivity) {
    lastActivity = t;
    call(7);
  }
}

function handle(e) {
  try {
    dispatch(e);
  } catch (err) { /* never into the page */ }
}

function dispatch(e) {
  var type = e.type;
  var target = e.target;
  if (type == 'pagehide') {
    // Leaving (or entering the back/forward cache): final metrics, then beacon.
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    metrics(4);
  } else if (type == 'pageshow') {
    if (e.persisted) call(3);
  } else if (type == 'visibilitychange') call(5);
  else if (type == 'focus' || type == 'blur') call(6);
  else if (type == 'scroll') {
    activity();
    if (target && target.hasAttribute && target.hasAttribute(ATTR + 'scroll') && dirty.indexOf(target) < 0) dirty.push(target);
    request();
  } else if (type == 'resize' || type == 'load') request();
  else if (type == 'click') {
    link = target && target.closest && target.closest('a[href]');
    // The href, and its parts as the browser's URL parser reads them.
    if (link) call(9, [hrefs.get(link) || link.href, link.protocol, link.hostname, new URLSearchParams(link.search).get('text') || '']);
  } else if (type == 'submit') {
    var step = attr(target, ATTR + 'step');
    if (step) call(10, [step]);
  } else if (type == 'popstate' || type == 'hashchange') call(2);
  else if (type == 'online') call(14);
  else activity();
}

// `(on the document?, capture?)` per event type. Scroll is captured on the
// document to see containers too (scroll does not bubble).
var EVENTS = {
  pagehide: 0, pageshow: 0, visibilitychange: 1, focus: 0, blur: 0,
  pointerdown: 2, keydown: 2, touchstart: 2, wheel: 2, mousemove: 2,
  scroll: 3, resize: 0, load: 0, click: 3, submit: 3, popstate: 0, hashchange: 0, online: 0,
};

function listen() {
  Object.keys(EVENTS).forEach(function (type) {
    var bits = EVENTS[type];
    var target = bits & 1 ? d : w;
    var capture = !!(bits & 2);
    target.addEventListener(type, handle, { passive: true, capture: capture });
    undo.push(function () { target.removeEventListener(type, handle, capture); });
  });
  // Single-page-app navigations have no event: wrap the History API. The
  // page's own call runs first and unchanged (its errors stay its own).
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    if (typeof original != 'function') return;
    var wrapper = function () {
      var result = original.apply(this, arguments);
      call(2);
      return result;
    };
    history[name] = wrapper;
    undo.push(function () { if (history[name] === wrapper) history[name] = original; });
  });
}

/** Gives the shell the function that calls the core's `on` (the glue does). */
export function bind(f) {
  on = f;
}

/** Stores a localStorage value for the core (an empty one removes it). */
export function save(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch (e) { /* blocked storage: not kept */ }
}

/** Number `i` of the call being made (NaN when there is none). */
export function num(i) {
  return +nums[i];
}

/** Test support: the numbers the next call to the core reads. */
export function numbers(n) {
  nums = n;
}

/** A localStorage value for the core; empty when absent or blocked. */
export function load(key) {
  try { return localStorage.getItem(key) || ''; } catch (e) { return ''; }
}

/** `touchline(name, arg)`: one page command for the core. */
export function command(name, arg) {
  try {
    var o = arg !== null && typeof arg == 'object' ? arg : {};
    var value = function (k) { return typeof o[k] == 'number' ? o[k] : NaN; };
    call(1, [name, arg, o.step, o.id, o.currency, o.payment, o.sku, o.name, o.query, o.email, o.phone],
      [value('value'), value('price')]);
  } catch (e) { /* never into the page */ }
}

/** Stops tracking: every listener, timer, observer and patch is removed. */
export function stop() {
  try {
    undo.forEach(function (f) { f(); });
    Object.keys(timers).forEach(function (k) { clearTimeout(timers[k]); });
    if (frame) cancelAnimationFrame(frame);
    if (observer) observer.disconnect();
  } catch (e) { /* never into the page */ }
  undo = [];
  timers = {};
  frame = 0;
  dirty = [];
  observer = 0;
  core = 0;
}

/**
 * Starts tracking with a new core. `opts`: endpoint, site id, then the
 * script tag's `data-*` option names and values, joined by \x1f. Replays the
 * commands the page queued before the wasm loaded, then announces readiness
 * (`touchline.ready` and a `touchline:ready` event).
 */
export function boot(opts) {
  try {
    var a = opts.split(SEP);
    if (core || !a[0] || !a[1] || !on) return;
    core = {};
    endpoint = a[0];
    lastActivity = 0;
    var stub = w.touchline;
    var queue = (stub && stub.q) || [];
    // A consent choice queued before the wasm loaded applies from the start.
    var consent = '';
    queue.forEach(function (c) { if (c[0] == 'consent') consent = c[1]; });
    var nav = navigator;
    listen();
    call(0, [a[1], consent, nav.doNotTrack].concat(a.slice(2)), [nav.globalPrivacyControl === true]);
    var api = w.touchline = function (name, arg) { command(name, arg); };
    queue.forEach(function (c) { command(c[0], c[1]); });
    queue.length = 0;
    api.ready = true;
    w.dispatchEvent(new Event('touchline:ready'));
  } catch (e) { /* never into the page */ }
}
