// Touchline loader: the `t.js` a page includes with
//   <script>window.touchline=window.touchline||function(){(touchline.q=touchline.q||[]).push(arguments)};</script>
//   <script async src="https://collector.example/t.js" data-site="SITE_ID"></script>
// It loads the wasm tracker next to it and starts it with the script tag's
// options; the shell (src/shell.js, bundled in) then replays the commands
// queued meanwhile. Nothing here may throw into the host page.
import init, { start } from './glue.js';

/* global WASM_VERSION: replaced at build time by the wasm's content hash */

(function () {
  var w = window;
  try {
    var s = document.currentScript;
    var src = (s && s.src) || location.href;
    var opts = [(s && s.getAttribute('data-endpoint')) || new URL('/v1/collect', src).href, ''];
    // Every data-* attribute is an option (the core reads the ones it knows).
    [].forEach.call((s && s.attributes) || [], function (a) {
      if (a.name == 'data-site') opts[1] = a.value;
      else if (!a.name.indexOf('data-')) opts.push(a.name.slice(5), a.value);
    });
    var stub = w.touchline;
    // Keep queueing while the wasm loads.
    if (!stub) {
      var queue = [];
      stub = w.touchline = function () { queue.push(arguments); };
      stub.q = queue;
    }
    init(new URL('t.wasm?v=' + WASM_VERSION, src))
      .then(function () { start(opts.join('\x1f')); })
      .catch(function () { /* no wasm: the page works, nothing is tracked */ });
  } catch (e) { /* never into the page */ }
})();
