/* Service worker of the inspector's visit pages (served as /visits/sw.js, scope /visits).

   Pages: network first, so an inspector online always sees today's file; the last copy of each
   visit page is kept and answers a reload when the network is gone (the draft itself lives in
   localStorage / IndexedDB, see inspection-draft.js). Static assets: the kept copy at once,
   refreshed in the background. Nothing else is touched: POSTs and other pages go to the network. */
"use strict";

var CACHE = "registry-visits-v1";

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("registry-visits-") === 0 && n !== CACHE; })
      .map(function (n) { return caches["delete"](n); }));
  }).then(function () { return self.clients.claim(); }));
});

function offlinePage() {
  return new Response("<!doctype html><meta charset=utf-8><title>Offline</title>" +
    "<p style='font:1.2rem system-ui;padding:2rem'>Offline: this page is not kept on this device yet.</p>",
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }

  if (request.mode === "navigate") {
    event.respondWith(fetch(request).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.ok && !response.redirected && response.type === "basic" && type.indexOf("text/html") === 0) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(request, copy); });
      }
      return response;
    })["catch"](function () {
      return caches.match(request).then(function (hit) { return hit || offlinePage(); });
    }));
    return;
  }

  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        var fresh = fetch(request).then(function (response) {
          if (response.ok) { cache.put(request, response.clone()); }
          return response;
        });
        if (hit) {
          fresh["catch"](function () { /* offline: the kept copy serves */ });
          return hit;
        }
        return fresh;
      });
    }));
  }
});
