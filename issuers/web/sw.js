// The citizen app's service worker (served at /sw.js, scope /). It keeps the app's own files so
// the app opens with no network; it never stores API answers: the last code is kept by the app
// itself (js/store.js), which shows it offline only while it is valid.
//
// Files are served from the cache at once and refreshed in the background
// (stale-while-revalidate), so a warm start needs no round trip before the code is asked for.

const CACHE = 'hc-citizen-web-v4';
const SHELL = [
  '/',
  '/manifest.webmanifest',
  '/app.css',
  '/js/main.js',
  '/js/core.js',
  '/js/code.js',
  '/js/family.js',
  '/js/declare.js',
  '/js/print.js',
  '/js/appeals.js',
  '/js/history.js',
  '/vendor/qrcode.mjs',
  '/icons/icon-192.png',
  '/fonts/hc-cjk-subset.woff2',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

const FILES = new Set(SHELL);

// The app's own files only; API answers (/v1/...) and everything else go to the network.
function ours(url) {
  return url.origin === self.location.origin && FILES.has(url.pathname);
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET') return;
  const page = request.mode === 'navigate' && url.origin === self.location.origin
    && (url.pathname === '/' || url.pathname === '/index.html');
  const key = page ? '/' : (ours(url) ? url.pathname : null);
  if (key === null) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(key);
    const fresh = fetch(key === '/' ? '/' : request).then((answer) => {
      if (answer.ok) cache.put(key, answer.clone());
      return answer;
    });
    if (cached) {
      event.waitUntil(fresh.catch(() => null));
      return cached;
    }
    return fresh;
  })());
});
