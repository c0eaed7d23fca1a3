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

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
  });
}

/* The page shown for a visit page that is not on the device: in Chinese (the bureau's language) with
   the English beneath, styled like the app, and saying what is kept here and what is not. */
function offlinePage() {
  return caches.open(CACHE).then(function (cache) { return cache.keys(); }).then(function (requests) {
    var visits = requests.filter(function (r) { return /\/visits\/\d+\/inspect$/.test(new URL(r.url).pathname); });
    return caches.open(CACHE).then(function (cache) {
      return Promise.all(visits.map(function (r) {
        return cache.match(r, { ignoreVary: true }).then(function (hit) { return hit ? hit.text() : ""; }).then(function (html) {
          var h = /<title>([^<]*)<\/title>/.exec(html);
          return { url: new URL(r.url).pathname, name: h ? h[1].trim() : new URL(r.url).pathname };
        });
      }));
    });
  })["catch"](function () { return []; }).then(function (kept) {
    var list = kept.length ? "<ul>" + kept.map(function (k) {
      return "<li><a href='" + escapeHtml(k.url) + "'>" + escapeHtml(k.name) + "</a></li>";
    }).join("") + "</ul>" : "<p>本设备上尚未保存任何检查页面。<br><span class=en>No visit page is kept on this device yet.</span></p>";
    var body = "<!doctype html><html lang=zh-CN><meta charset=utf-8><meta name=viewport content='width=device-width, initial-scale=1'>" +
      "<title>离线 · Offline</title><style>" +
      "body{margin:0;font:1.05rem/1.6 system-ui,'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;color:#1d2733;background:#f4f6f9}" +
      "header{background:#0b4f8a;color:#fff;padding:1rem 1.5rem;font-size:1.15rem;font-weight:600}" +
      "main{max-width:40rem;margin:1.5rem auto;padding:1.5rem;background:#fff;border:1px solid #d5dbe3;border-radius:.5rem}" +
      "h1{font-size:1.4rem;margin:0 0 .75rem}.en{color:#4a5563;font-size:.95rem}" +
      "a{display:inline-block;min-height:44px;line-height:44px;color:#0b4f8a;font-weight:600}ul{padding-left:1.2rem}" +
      "</style><header>义乌市自备取水户管理 · 离线</header><main>" +
      "<h1>当前没有网络连接 <span class=en>You are offline</span></h1>" +
      "<p>此页面未保存在本设备上，需联网后才能打开。<br><span class=en>This page is not kept on this device; it opens once the connection returns.</span></p>" +
      "<h2 style='font-size:1.1rem'>本设备上已保存、可离线打开的检查 <span class=en>Visits kept on this device</span></h2>" + list +
      "<p>已填写的检查草稿和照片保存在本设备上，联网后即可提交；档案的其他页面、列表和统计需联网查看。<br>" +
      "<span class=en>Drafts and photos stay on this device and are sent when the connection returns; other pages of the " +
      "registry (files, lists, figures) need the connection.</span></p></main></html>";
    return new Response(body, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
  });
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
      return caches.match(request, { ignoreVary: true }).then(function (hit) { return hit || offlinePage(); });
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
