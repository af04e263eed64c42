// A loopback HTTP server for the browser benchmarks: the demo shop and a long
// page, each with exactly one tracker (Touchline, a peer, the plain-JS floor or
// none), the trackers' files from local disk, and a sink that answers 200 to
// every POST (and Segment's settings), so nothing leaves 127.0.0.1.
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { ROOT } from './report.mjs';
import { OUT } from './peers.mjs';

const NM = join(ROOT, 'node_modules');
const SEGMENT_UMD = join(NM, '@segment/analytics-next/dist/umd');
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.json': 'application/json' };

// The plain-JS floor: the same bookkeeping as Touchline's scroll, visibility and
// WhatsApp-click captures, written directly in JS (no wasm, no batching logic).
export const FLOOR_JS = `(function(){
var ep=document.currentScript.getAttribute('data-endpoint'),q=[],max=0,seen={},pending=false,engaged=0,since=performance.now(),vis=true;
function push(e){e.ts=Date.now();e.url=location.href;q.push(e);}
function flush(){if(q.length){navigator.sendBeacon(ep,JSON.stringify({events:q}));q=[];}}
function measure(){pending=false;var d=document.documentElement,h=d.scrollHeight-innerHeight;var p=h>0?Math.min(100,Math.round(scrollY/h*100)):100;
if(p>max){max=p;[25,50,75,90,100].forEach(function(m){if(p>=m&&!seen[m]){seen[m]=1;push({kind:'scroll',depth:m});}});}}
addEventListener('scroll',function(){if(!pending){pending=true;requestAnimationFrame(measure);}},{passive:true});
document.addEventListener('visibilitychange',function(){var now=performance.now();if(document.visibilityState==='hidden'){if(vis)engaged+=now-since;vis=false;push({kind:'engagement',ms:Math.round(engaged),max_scroll:max});flush();}else{vis=true;since=now;}});
document.addEventListener('click',function(ev){var a=ev.target&&ev.target.closest&&ev.target.closest('a[href]');if(!a)return;var u;try{u=new URL(a.href);}catch(e){return;}
if(u.hostname==='wa.me'||u.hostname==='api.whatsapp.com'){var ref='tl-'+Math.random().toString(36).slice(2,12);u.searchParams.set('text',(u.searchParams.get('text')||'')+' [ref:'+ref+']');a.href=u.href;push({kind:'whatsapp_click',reference:ref});flush();}},true);
push({kind:'page_view'});setTimeout(flush,1000);window.__ready&&window.__ready();})();`;

/** The <script> tags that put one tracker on a page; each calls window.__ready() when ready. */
export function trackerTags(id, origin, { navigate = true } = {}) {
  switch (id) {
    case 'none': return '<script>window.__ready&&window.__ready()</script>';
    case 'floor': return `<script src="/bench/floor.js" data-endpoint="${origin}/sink/floor"></script>`;
    case 'touchline': return `<script>window.touchline=window.touchline||function(){(touchline.q=touchline.q||[]).push(arguments)};addEventListener('touchline:ready',function(){window.__ready&&window.__ready()});</script>
<script async src="/t.js" data-site="demo" data-endpoint="${origin}/v1/collect"></script>`;
    case 'snowplow': return `<script src="/bench/snowplow.js"></script><script>(function(s){s.newTracker('sp','${origin}/sink',{appId:'bench',eventMethod:'post',bufferSize:1,contexts:{webPage:true}});
s.enableActivityTracking({minimumVisitLength:5,heartbeatDelay:5});s.trackPageView();window.__ready&&window.__ready();})(window.snowplowBench);</script>`;
    case 'posthog': return `<script>!function(){var p=window.posthog=[];p._i=[];p.__SV=1;p.init=function(k,c,n){p._i.push([k,c,n])};
p.init('phc_bench',{api_host:'${origin}/sink/ph',autocapture:true,capture_pageview:true,capture_pageleave:true,disable_session_recording:true,disable_surveys:true,
advanced_disable_flags:true,advanced_disable_decide:true,disable_external_dependency_loading:true,persistence:'localStorage',loaded:function(){window.__ready&&window.__ready()}});}();</script>
<script async src="/bench/posthog.js"></script>`;
    case 'segment': return `<script>!function(){var a=window.analytics=[];a._writeKey='bench';a._cdn='${origin}';
['page','track','identify','ready'].forEach(function(m){a[m]=function(){var x=[].slice.call(arguments);x.unshift(m);a.push(x);return a}});
a.ready(function(){window.__ready&&window.__ready()});a.page();}();</script>
<script async src="/analytics.js/v1/bench/analytics.min.js"></script>`;
    // navigate: false loads the NODE_ENV=test build (see peers.mjs) with a `process` global, so its delayed navigation is skipped.
    case 'plausible': return `${navigate ? '' : "<script>window.process={env:{NODE_ENV:'test'}};</script>"}<script src="/bench/plausible${navigate ? '' : '.nonav'}.js"></script><script>(function(){var p=window.plausibleBench({domain:'bench.local',apiHost:'${origin}/sink',trackLocalhost:true});
p.enableAutoPageviews();p.enableAutoOutboundTracking();window.__ready&&window.__ready();})();</script>`;
    default: throw new Error(`unknown tracker ${id}`);
  }
}

// The start mark goes right before the tracker's tags; ready time is measured from it.
const MARK = `<script>window.__t0=performance.now();window.__readyAt=null;window.__ready=function(){if(window.__readyAt===null)window.__readyAt=performance.now();};</script>`;

function longPage(id, origin) {
  const sections = [];
  for (let i = 0; i < 120; i++) {
    sections.push(`<section class="blk"><h2>Collection ${i + 1}</h2><p>${'Handwoven cotton and silk, picked from weavers we know by name. '.repeat(6)}</p>
<p><a class="wa" id="wa${i}" href="https://wa.me/919800000000?text=Hi%20about%20item%20${i}">Ask about item ${i + 1} on WhatsApp</a> <button type="button" id="b${i}">Add to wishlist</button></p></section>`);
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Long page</title><link rel="icon" href="data:,"><style>body{font:16px/1.5 sans-serif;margin:0 auto;max-width:760px}.blk{min-height:420px;border-bottom:1px solid #ddd}</style>
${MARK}${trackerTags(id, origin, { navigate: false })}</head><body><h1>Saathi Threads: all collections</h1>${sections.join('\n')}
<script>addEventListener('click',function(e){if(e.target.closest&&e.target.closest('a[href]'))e.preventDefault();});</script></body></html>`;
}

function demoShop(id, origin) {
  const html = readFileSync(join(ROOT, 'www', 'index.html'), 'utf8');
  const stub = /<script>window\.touchline=[^<]*<\/script>\s*<script async src="\/t\.js"[^>]*><\/script>/;
  if (!stub.test(html)) throw new Error('www/index.html no longer has the tracker snippet this benchmark replaces');
  return html.replace(stub, MARK + trackerTags(id, origin));
}

export function startPages() {
  const posts = [];
  const files = {
    '/t.js': join(ROOT, 'tracker/dist/t.js'),
    '/t.wasm': join(ROOT, 'tracker/dist/t.wasm'),
    '/bench/snowplow.js': join(OUT, 'snowplow.js'),
    '/bench/plausible.js': join(OUT, 'plausible.js'),
    '/bench/plausible.nonav.js': join(OUT, 'plausible.nonav.js'),
    '/bench/posthog.js': join(NM, 'posthog-js/dist/array.js'),
    '/analytics.js/v1/bench/analytics.min.js': join(SEGMENT_UMD, 'standalone.js'),
    '/assets/shop.css': join(ROOT, 'www/assets/shop.css'),
  };
  let origin;
  const server = createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (req.method === 'POST' || path.startsWith('/sink')) {
      let n = 0;
      req.on('data', (d) => { n += d.length; });
      req.on('end', () => {
        posts.push({ path, bytes: n });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(path === '/v1/collect' ? '{"accepted":1,"rejected":[],"duplicates":0}' : '{}');
      });
      return;
    }
    let body; let type;
    const m = path.match(/^\/(long|shop)\/([a-z]+)$/);
    if (m) { body = (m[1] === 'long' ? longPage : demoShop)(m[2], origin); type = TYPES['.html']; }
    else if (path === '/bench/floor.js') { body = FLOOR_JS; type = TYPES['.js']; }
    else if (path === '/v1/projects/bench/settings') {
      body = JSON.stringify({ integrations: { 'Segment.io': { apiKey: 'bench', apiHost: `${origin.slice(7)}/sink/seg`, protocol: 'http' } }, plan: {}, analyticsNextEnabled: true });
      type = TYPES['.json'];
    } else {
      let f = files[path];
      if (!f && path.startsWith('/analytics-next/bundles/')) f = join(SEGMENT_UMD, path.slice('/analytics-next/bundles/'.length));
      if (f && existsSync(f)) { body = readFileSync(f); type = TYPES[extname(f)] || 'application/octet-stream'; }
    }
    if (body === undefined) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    origin = `http://127.0.0.1:${server.address().port}`;
    resolve({ origin, posts, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) });
  }));
}
