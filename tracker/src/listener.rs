//! Browser registrations as RAII values (gloo style): dropping one undoes it.

use std::rc::Rc;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AddEventListenerOptions, EventTarget};

/// One event handler shared by every listener: a single closure (and so a
/// single piece of glue) that dispatches on the event's type.
pub type Handler = Rc<Closure<dyn FnMut(web_sys::Event)>>;

/// A registered, passive event listener; removed from its target on drop.
#[must_use = "dropping a Listener removes it"]
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    capture: bool,
    callback: Handler,
}

impl Listener {
    /// Adds a passive listener for `kind` on `target` (in the capture phase
    /// when `capture`, to see events that do not bubble, such as a
    /// container's `scroll`); `None` if the browser refused.
    pub fn new(
        target: &EventTarget,
        kind: &'static str,
        capture: bool,
        handler: &Handler,
    ) -> Option<Listener> {
        let callback = handler.clone();
        let opts = AddEventListenerOptions::new();
        opts.set_passive(true);
        opts.set_capture(capture);
        target
            .add_event_listener_with_callback_and_add_event_listener_options(
                kind,
                AsRef::<JsValue>::as_ref(&*callback).unchecked_ref(),
                &opts,
            )
            .ok()?;
        Some(Listener {
            target: target.clone(),
            kind,
            capture,
            callback,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback_and_bool(
            self.kind,
            AsRef::<JsValue>::as_ref(&*self.callback).unchecked_ref(),
            self.capture,
        );
    }
}

/// A `setTimeout` or `setInterval`; cleared on drop.
#[must_use = "dropping a Timer cancels it"]
pub struct Timer {
    id: i32,
    repeat: bool,
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    /// Calls `callback` once after `ms` (or every `ms` when `repeat`).
    pub fn new(ms: f64, repeat: bool, callback: Closure<dyn FnMut()>) -> Option<Timer> {
        let w = web_sys::window()?;
        let cb = callback.as_ref().unchecked_ref();
        let ms = ms.clamp(0.0, 2.0e9) as i32;
        let id = if repeat {
            w.set_interval_with_callback_and_timeout_and_arguments_0(cb, ms)
        } else {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(cb, ms)
        }
        .ok()?;
        Some(Timer {
            id,
            repeat,
            _callback: callback,
        })
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            if self.repeat {
                w.clear_interval_with_handle(self.id);
            } else {
                w.clear_timeout_with_handle(self.id);
            }
        }
    }
}

/// `history.pushState`/`replaceState` wrapped so that single-page-app
/// navigations are seen (there is no event for them); the page's own call
/// runs first and unchanged. Restores the original on drop (if nobody has
/// wrapped it again since).
#[must_use = "dropping a Patch restores the original"]
pub struct Patch {
    object: JsValue,
    name: &'static str,
    original: Function,
    wrapper: Closure<dyn FnMut(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>,
}

impl Patch {
    /// Wraps `object[name]` so that `after()` runs after each successful call.
    pub fn new(
        object: JsValue,
        name: &'static str,
        mut after: impl FnMut() + 'static,
    ) -> Option<Patch> {
        let original: Function = Reflect::get(&object, &JsValue::from_str(name))
            .ok()?
            .dyn_into()
            .ok()?;
        let (orig, obj) = (original.clone(), object.clone());
        let wrapper =
            Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
                move |a: JsValue, b: JsValue, c: JsValue| {
                    // The page's own errors (e.g. a cross-origin URL) stay the page's.
                    let r = orig.call3(&obj, &a, &b, &c)?;
                    after();
                    Ok(r)
                },
            );
        Reflect::set(&object, &JsValue::from_str(name), wrapper.as_ref()).ok()?;
        Some(Patch {
            object,
            name,
            original,
            wrapper,
        })
    }
}

impl Drop for Patch {
    fn drop(&mut self) {
        let key = JsValue::from_str(self.name);
        let current = Reflect::get(&self.object, &key).unwrap_or(JsValue::UNDEFINED);
        if current == *self.wrapper.as_ref() {
            let _ = Reflect::set(&self.object, &key, &self.original);
        }
    }
}

/// An IntersectionObserver; disconnected on drop.
#[must_use = "dropping an Observer disconnects it"]
pub struct Observer {
    observer: web_sys::IntersectionObserver,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
}

impl Observer {
    /// Calls `f` with each element each time it comes into the viewport.
    pub fn new(
        elements: &[web_sys::Element],
        mut f: impl FnMut(web_sys::Element) + 'static,
    ) -> Option<Observer> {
        let callback = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            for e in entries.iter() {
                let target = Reflect::get(&e, &JsValue::from_str("target"));
                let shown = Reflect::get(&e, &JsValue::from_str("isIntersecting"));
                if let (Ok(t), Ok(shown)) = (target, shown) {
                    if let (true, Ok(el)) = (shown.is_truthy(), t.dyn_into::<web_sys::Element>()) {
                        f(el);
                    }
                }
            }
        });
        let observer =
            web_sys::IntersectionObserver::new(callback.as_ref().unchecked_ref()).ok()?;
        for el in elements {
            observer.observe(el);
        }
        Some(Observer {
            observer,
            _callback: callback,
        })
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}
