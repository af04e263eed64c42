//! Touchline's browser tracker: a decisions-only core in wasm behind a
//! hand-written JS shell (`src/shell.js`).
//!
//! The shell listens to the page (scroll, visibility, focus, activity,
//! clicks, submits, history, lifecycle, checkout sections) and reports what
//! happened to [`Tracker::on`]; the core asks `touchline-shared` what that
//! means, stores what it keeps through the shell (`load`/`save`), and asks
//! the shell, through one small import each, for what it decided (send a
//! batch, set a timer, measure next frame, observe sections, decorate a link,
//! hash a value). Every shell entry is guarded: the host page never sees an
//! exception from us, so problems degrade to "not tracked".
//!
//! The wasm is `no_std` (with `alloc`): its panic handler is a trap, so no
//! formatting or panic messages are shipped. The feature `std` (on for this
//! crate's own tests) leaves panics to the standard library.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(clippy::string_slice)]
#![deny(missing_docs)]

extern crate alloc;

mod tracker;
#[doc(hidden)]
pub mod transport;

use alloc::string::String;
use wasm_bindgen::prelude::*;

use tracker::Tracker;

/// A first-fit free list (sorted by address, neighbours merged when freed)
/// instead of the default dlmalloc: the tracker's heap is a few kilobytes of
/// short strings, so a list walk costs nothing, and the wasm is about 5 KB
/// smaller than with dlmalloc and 340 bytes (brotli) smaller than with talc.
/// The lock is never contended (a page's wasm runs on one thread); it keeps
/// the allocator free of `unsafe` here. The heap grows with the page's
/// memory; `tracker/tests/web.rs` holds it flat over a long session.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// No formatting, no unwinding: a panic (a bug, never outside data) traps,
/// which the shell's guards turn into "not tracked".
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[wasm_bindgen(module = "/src/shell.js")]
extern "C" {
    /// A localStorage value; empty when absent or storage is blocked.
    fn load(key: &str) -> String;
    /// Stores a localStorage value (an empty one removes the key); nothing
    /// when storage is blocked.
    fn save(key: &str, value: &str);
    /// Tells the shell to start listening (`opts`: see [`start`]); the
    /// shell then reports to [`on`].
    #[cfg(feature = "std")]
    fn boot(opts: &str);
    /// Sends a batch body (`beacon`: with sendBeacon, the page is hiding);
    /// its fate comes back as operation `SENT` with `events`, the body's
    /// events one per line, unless the browser took it as a beacon.
    fn send(beacon: bool, body: &str, events: &str);
    /// Sets timer `id` to report `TIMER` after `ms` (negative: clears it).
    fn timer(id: u32, ms: f64);
    /// Reports `FRAME` with the scroll metrics on the next animation frame.
    fn request();
    /// Watches the page's checkout sections (`STEP` when one shows).
    fn observe();
    /// Writes this prefilled text into the link being clicked.
    fn decorate(text: &str);
    /// Reports `DIGEST` with the SHA-256 (hex) of an identify value.
    fn digest(kind: &str, value: &str);
    /// Number `i` of the call to [`on`] being made (NaN when there is
    /// none): read from the shell rather than passed as a `&[f64]`, whose
    /// conversion costs the wasm about 400 bytes.
    fn num(i: u32) -> f64;
    /// Sets the numbers the next call to [`on`] reads (tests call [`on`]
    /// directly with nonsense numbers).
    #[cfg(feature = "std")]
    fn numbers(nums: alloc::vec::Vec<f64>);
    /// Gives the shell the function that calls [`on`] (`glue.js` does this
    /// on pages; the tests through [`bind_for_tests`]).
    #[cfg(feature = "std")]
    fn bind(on: &wasm_bindgen::closure::Closure<dyn Fn(u32, String)>);
    /// `touchline(name, arg)`: one page command (tests call it directly).
    pub fn command(name: &JsValue, arg: &JsValue);
    /// Stops tracking on this page: every listener, timer, observer and
    /// history patch is removed (tests).
    pub fn stop();
}

/// Starts tracking on this page, as the loader (`t.js`) does through
/// `glue.js`, which hands `opts` to the shell's `boot` without a trip
/// through the wasm (so pages get neither this export nor its import).
///
/// `opts` is `endpoint`, `site` and then `data-*` option names and values
/// of the script tag, joined by `\x1f`. Does nothing when tracking already
/// runs or without a site id.
#[cfg(feature = "std")]
#[wasm_bindgen]
pub fn start(opts: &str) {
    boot(opts);
}

/// The page's tracker: one per page, a fresh one at each `START` (the shell
/// sends it once per boot). A lock rather than a handle object: the
/// handle's machinery in wasm-bindgen (reference counting, borrow flags,
/// ownership checks and their messages) cost the page about 600 bytes.
static TRACKER: spin::Mutex<Option<Tracker>> = spin::Mutex::new(None);

/// One thing that happened on the page, reported by the shell: see
/// [`Tracker::on`] (nothing while tracking is not started, or on a
/// reentrant call).
#[wasm_bindgen]
pub fn on(op: u32, texts: &str) {
    let Some(mut tracker) = TRACKER.try_lock() else {
        return;
    };
    if op == tracker::START {
        *tracker = Some(Tracker::default());
    }
    if let Some(t) = tracker.as_mut() {
        t.on(op, texts);
    }
}

/// Test support: [`on`] with the numbers `nums` (nonsense ones too).
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn on_with_numbers(op: u32, texts: &str, nums: &[f64]) {
    numbers(nums.to_vec());
    on(op, texts);
}

/// Test support: hands the shell a function calling [`on`], the job
/// `glue.js` does on pages (the tests load wasm-bindgen's generated glue).
#[cfg(feature = "std")]
#[doc(hidden)]
pub fn bind_for_tests() {
    // Once per page: the closure lives as long as the page (it is forgotten).
    static BOUND: std::sync::Once = std::sync::Once::new();
    BOUND.call_once(|| {
        let on = wasm_bindgen::closure::Closure::<dyn Fn(u32, String)>::new(|op, texts: String| {
            on(op, &texts)
        });
        bind(&on);
        on.forget();
    });
}
