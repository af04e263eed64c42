// Touchline loader: the `t.js` a page includes with
//   <script>window.touchline=window.touchline||function(){(touchline.q=touchline.q||[]).push(arguments)};</script>
//   <script async src="https://collector.example/t.js" data-site="SITE_ID"></script>
// It loads the wasm tracker next to it, starts it, then replays the commands
// queued by the stub in order. Nothing here may throw into the host page.
import init, { start, command } from './pkg/touchline_tracker.js';

/* global WASM_VERSION: replaced at build time by the wasm's content hash */

(function () {
  var w = window;
  try {
    var s = document.currentScript;
    var src = (s && s.src) || location.href;
    var site = s && s.getAttribute('data-site');
    var endpoint = (s && s.getAttribute('data-endpoint')) || new URL('/v1/collect', src).href;
    var stub = w.touchline;
    var queue = (stub && stub.q) || [];
    // Keep queueing while the wasm loads.
    if (!stub) {
      stub = w.touchline = function () { queue.push(arguments); };
      stub.q = queue;
    }
    init({ module_or_path: new URL('t.wasm?v=' + WASM_VERSION, src) })
      .then(function () {
        // A consent choice queued before the wasm loaded applies from the start.
        var consent;
        for (var j = 0; j < queue.length; j++) if (queue[j][0] === 'consent') consent = queue[j][1];
        start(site || '', endpoint, s, consent);
        var run = function (a) {
          try { command(a[0], a[1]); } catch (e) { /* never into the page */ }
        };
        var api = w.touchline = function () { run(arguments); };
        for (var i = 0; i < queue.length; i++) run(queue[i]);
        queue.length = 0;
        // Public readiness: `touchline.ready` and a `touchline:ready` event.
        api.ready = true;
        try { w.dispatchEvent(new Event('touchline:ready')); } catch (e) { /* old browsers */ }
      })
      .catch(function () { /* no wasm: the page works, nothing is tracked */ });
  } catch (e) { /* never into the page */ }
})();
