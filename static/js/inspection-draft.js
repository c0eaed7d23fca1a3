/* The inspector's tablet (issue 7): offline banner, drafts kept on the device, camera photos,
   the signature pad, and sending an inspection exactly once.

   - What is typed is saved in localStorage as it is typed; photos (Blobs) in IndexedDB. After a
     reload, a crash or a lost connection the draft comes back, until the inspection is sent.
   - A draft keeps the idempotency key of the form it was started in. Sending it twice (a retry
     after a lost answer, a second tap) gives the same inspection: the server makes it once.
   - Offline, "send" waits for the connection and sends by itself when it returns.
   - A service worker (/visits/sw.js) keeps the visit pages and their assets, so a reload works
     without a connection.
   No framework, no inline script: the page passes its settings and texts as data-* attributes. */
(function () {
  "use strict";

  var DB_NAME = "registry-drafts";
  var PHOTO_STORE = "photos";
  var MAX_EDGE = 2048; // px sent at most; the server makes 1600 px. Smaller uploads on a weak signal.
  var PREFIX = "registry-draft:";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  function clock(ms) {
    var d = new Date(ms);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }

  /* --- the connection, and the offline banner on every tablet page --------------------------
     navigator.onLine only knows whether a network is attached (and is not always told when a
     page comes from the service worker's copy), so a light request to the server is the judge:
     every 30 s while online, every 4 s while offline, and at once on the browser's events. */
  var Connection = {
    up: navigator.onLine,
    url: null,
    timer: null,
    listeners: [],
    on: function (fn) { this.listeners.push(fn); },
    set: function (up) {
      if (up === this.up) { return; }
      this.up = up;
      this.listeners.forEach(function (fn) { fn(up); });
    },
    probe: function () {
      var self = this;
      clearTimeout(this.timer);
      var done = function (up) {
        self.set(up);
        self.timer = setTimeout(function () { self.probe(); }, up ? 30000 : 4000);
        return up;
      };
      if (!navigator.onLine) { return Promise.resolve(done(false)); }
      if (!this.url) { return Promise.resolve(done(true)); }
      // Without the session cookie: a probe is not activity, so the server's idle sign-out still works.
      return fetch(this.url, { method: "HEAD", cache: "no-store", credentials: "omit" })
        .then(function () { return done(true); }, function () { return done(false); });
    },
    start: function (url) {
      var self = this;
      this.url = url;
      window.addEventListener("online", function () { self.probe(); });
      window.addEventListener("offline", function () { self.set(false); self.probe(); });
      return this.probe();
    }
  };

  function offlineBanner() {
    var banner = document.getElementById("offline-banner");
    if (!banner) { return; }
    banner.hidden = Connection.up;
    Connection.on(function (up) { banner.hidden = up; });
    Connection.start(banner.dataset.probeUrl);
  }

  /* --- photos in IndexedDB ----------------------------------------------------------------- */
  var photoDb = null;
  function openDb() {
    if (photoDb) { return photoDb; }
    photoDb = new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        var store = request.result.createObjectStore(PHOTO_STORE, { keyPath: "id" });
        store.createIndex("draft", "draft");
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
    return photoDb;
  }
  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(PHOTO_STORE, mode);
        var result = work(t.objectStore(PHOTO_STORE));
        t.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error); };
      });
    });
  }
  var Photos = {
    put: function (photo) { return tx("readwrite", function (s) { s.put(photo); }); },
    remove: function (id) { return tx("readwrite", function (s) { s["delete"](id); }); },
    of: function (draft) { return tx("readonly", function (s) { return s.index("draft").getAll(draft); }); },
    clear: function (draft) {
      return tx("readwrite", function (s) {
        var cursor = s.index("draft").openCursor(draft);
        cursor.onsuccess = function () { if (cursor.result) { cursor.result["delete"](); cursor.result["continue"](); } };
      });
    }
  };

  /* --- the inspection form ----------------------------------------------------------------- */
  function InspectionForm(form) {
    this.form = form;
    this.data = form.dataset;
    this.storageKey = PREFIX + this.data.draftKey;
    this.keyInput = form.querySelector("input[name=idempotency_key]");
    this.status = document.getElementById("draft-status");
    this.discardButton = document.getElementById("draft-discard");
    this.sendButton = document.getElementById("send-inspection");
    this.photos = []; // {id, draft, code, name, blob}
    this.sending = false;
    this.saveTimer = null;
    this.draft = this.load();
  }

  InspectionForm.prototype.load = function () {
    try { return JSON.parse(localStorage.getItem(this.storageKey) || "null"); } catch (e) { return null; }
  };

  InspectionForm.prototype.fields = function () {
    var values = {};
    $all("input, textarea, select", this.form).forEach(function (el) {
      if (!el.name || el.type === "file" || el.name === "csrf_token" || el.name === "idempotency_key") { return; }
      if (el.type === "radio") {
        if (el.checked) { values[el.name] = el.value; } else if (!(el.name in values)) { values[el.name] = ""; }
      } else {
        values[el.name] = el.value;
      }
    });
    return values;
  };

  InspectionForm.prototype.save = function (extra) {
    var draft = this.draft || { key: this.keyInput.value, startedAt: Date.now() };
    draft.fields = this.fields();
    draft.savedAt = Date.now();
    draft.photos = this.photos.map(function (p) { return { id: p.id, code: p.code, name: p.name }; });
    if (extra) { Object.keys(extra).forEach(function (k) { draft[k] = extra[k]; }); }
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(draft));
      this.draft = draft;
      this.say(this.data.msgSaved.replace("__TIME__", clock(draft.savedAt)));
      this.discardButton.hidden = false;
    } catch (e) {
      this.say(this.data.msgStorage, true);
    }
  };

  InspectionForm.prototype.saveSoon = function () {
    var self = this;
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(function () { self.save(); }, 250);
  };

  InspectionForm.prototype.say = function (text, warning) {
    this.status.textContent = text;
    this.status.classList.toggle("is-warning", !!warning);
  };

  InspectionForm.prototype.restore = function () {
    var form = this.form, draft = this.draft;
    if (!draft) { this.say(this.data.msgUnsaved, true); return Promise.resolve(); }
    this.keyInput.value = draft.key; // the key of the first form of this draft: sends stay one inspection
    Object.keys(draft.fields || {}).forEach(function (name) {
      var value = draft.fields[name];
      $all("[name='" + name.replace(/'/g, "") + "']", form).forEach(function (el) {
        if (el.type === "radio") { el.checked = el.value === value; } else if (el.type !== "file") { el.value = value; }
      });
    });
    this.say(this.data.msgRestored.replace("__TIME__", clock(draft.savedAt || Date.now())));
    this.discardButton.hidden = false;
    var self = this;
    return Photos.of(draft.key).then(function (stored) {
      (stored || []).forEach(function (p) { self.photos.push(p); self.thumb(p); });
    })["catch"](function () { /* no IndexedDB: photos stay for this page only */ });
  };

  InspectionForm.prototype.discard = function () {
    var key = this.draft ? this.draft.key : this.keyInput.value;
    localStorage.removeItem(this.storageKey);
    this.draft = null;
    return Photos.clear(key)["catch"](function () {});
  };

  /* problems show their rectification order (CSS :has does it too, where supported) */
  InspectionForm.prototype.markProblems = function () {
    $all(".check-item", this.form).forEach(function (item) {
      var problem = item.querySelector("input[value=problem]");
      item.classList.toggle("is-problem", !!(problem && problem.checked));
    });
  };

  /* --- photos from the camera --- */
  InspectionForm.prototype.error = function (field, message) {
    var box = this.form.querySelector("[data-error-for='" + field + "']") || document.getElementById("err-" + field);
    if (!box) { return false; }
    box.textContent = message || "";
    box.hidden = !message;
    return true;
  };

  function shrink(file) {
    if (!window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_EDGE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      if (bitmap.close) { bitmap.close(); }
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.88);
      });
    });
  }

  InspectionForm.prototype.addPhoto = function (code, file) {
    var self = this, data = this.data, field = "photo-" + code;
    var name = file.name || "photo.jpg";
    if (file.size > Number(data.photoMaxBytes)) {
      this.error(field, data.msgPhotoTooLarge.replace("__NAME__", name));
      return Promise.resolve();
    }
    if (file.type && file.type.indexOf("image/") !== 0) {
      this.error(field, data.msgNotImage.replace("__NAME__", name));
      return Promise.resolve();
    }
    return shrink(file).then(function (blob) {
      if (!self.draft) { self.save(); }
      var photo = { id: self.keyInput.value + ":" + Date.now() + ":" + Math.random().toString(36).slice(2, 8),
                    draft: (self.draft || {}).key || self.keyInput.value, code: code,
                    name: name.replace(/\.[^.]*$/, "") + ".jpg", blob: blob };
      self.photos.push(photo);
      self.thumb(photo);
      return Photos.put(photo).then(function () { self.save(); }, function () { self.say(data.msgStorage, true); });
    }, function () {
      self.error(field, data.msgNotImage.replace("__NAME__", name));
    });
  };

  InspectionForm.prototype.thumb = function (photo) {
    var self = this;
    var list = this.form.querySelector("[data-thumbs-for='" + photo.code + "']");
    if (!list) { return; }
    var li = document.createElement("li");
    var img = document.createElement("img");
    img.src = URL.createObjectURL(photo.blob);
    img.alt = photo.name;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "thumb-remove";
    remove.setAttribute("aria-label", this.data.msgRemovePhoto + " " + photo.name);
    remove.textContent = "×";
    remove.addEventListener("click", function () {
      self.photos = self.photos.filter(function (p) { return p.id !== photo.id; });
      URL.revokeObjectURL(img.src);
      li.remove();
      Photos.remove(photo.id)["catch"](function () {});
      self.save();
    });
    li.appendChild(img);
    li.appendChild(remove);
    list.appendChild(li);
  };

  InspectionForm.prototype.watchPhotos = function () {
    var self = this;
    $all("input.photo-input", this.form).forEach(function (input) {
      input.addEventListener("change", function () {
        var files = Array.prototype.slice.call(input.files || []);
        var code = input.dataset.code;
        input.value = "";
        self.error("photo-" + code, "");
        files.reduce(function (done, file) {
          return done.then(function () { return self.addPhoto(code, file); });
        }, Promise.resolve());
      });
    });
  };

  /* --- the signature pad --- */
  InspectionForm.prototype.signaturePad = function () {
    var canvas = document.getElementById("signature-canvas");
    var hidden = document.getElementById("signature-data");
    var clear = document.getElementById("signature-clear");
    if (!canvas || !hidden) { return; }
    var self = this, ctx = canvas.getContext("2d"), drawing = false, last = null;

    function size() {
      var ratio = window.devicePixelRatio || 1;
      var box = canvas.getBoundingClientRect();
      canvas.width = Math.max(1, Math.round(box.width * ratio));
      canvas.height = Math.max(1, Math.round(box.height * ratio));
      ctx.lineWidth = 2.5 * ratio;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#111";
      redraw();
    }
    function redraw() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (!hidden.value) { return; }
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(canvas.width / img.width, canvas.height / img.height);
        ctx.drawImage(img, 0, 0, img.width * scale, img.height * scale);
      };
      img.src = hidden.value;
    }
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return { x: (event.clientX - box.left) * (canvas.width / box.width),
               y: (event.clientY - box.top) * (canvas.height / box.height) };
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      last = point(event);
      if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
      ctx.beginPath();
      ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fillStyle = "#111";
      ctx.fill();
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      var p = point(event);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      last = p;
      event.preventDefault();
    });
    function end() {
      if (!drawing) { return; }
      drawing = false;
      hidden.value = canvas.toDataURL("image/png");
      self.save();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);
    clear.addEventListener("click", function () {
      hidden.value = "";
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      self.save();
    });
    window.addEventListener("resize", size);
    this.redrawSignature = redraw;
    size();
  };

  /* --- the dial reading fills the month's volume when the last reading was the month before --- */
  InspectionForm.prototype.readingHelper = function () {
    var meter = document.getElementById("reading-meter_id");
    var index = document.getElementById("reading-meter_index");
    var volume = document.getElementById("reading-volume_m3");
    var period = document.getElementById("reading-period");
    var hint = document.getElementById("previous-index");
    if (!meter || !index || !volume || !hint) { return; }
    function previous() {
      var option = meter.options[meter.selectedIndex];
      return option && option.dataset.previousIndex ? option.dataset : null;
    }
    function monthBefore(value) {
      var m = /^(\d{4})-(\d{2})/.exec(value || "");
      if (!m) { return ""; }
      var y = Number(m[1]), mo = Number(m[2]) - 1;
      if (mo === 0) { y -= 1; mo = 12; }
      return y + "-" + (mo < 10 ? "0" : "") + mo;
    }
    function update() {
      var prev = previous();
      hint.hidden = !prev;
      if (prev) { hint.textContent = hint.dataset.template.replace("__VALUE__", prev.previousIndex).replace("__MONTH__", prev.previousPeriod); }
      if (!prev || index.value === "" || (volume.value !== "" && !volume.dataset.auto)) { return; }
      if (prev.previousPeriod !== monthBefore(period.value)) { return; }
      var used = Number(index.value) - Number(prev.previousIndex);
      if (used >= 0) {
        volume.value = String(Math.round(used * 1000) / 1000);
        volume.dataset.auto = "1";
      }
    }
    meter.addEventListener("change", update);
    index.addEventListener("input", update);
    period.addEventListener("change", update);
    volume.addEventListener("input", function () { delete volume.dataset.auto; });
    update();
  };

  /* --- sending --- */
  InspectionForm.prototype.clearErrors = function () {
    $all("[data-error-for]", this.form).forEach(function (box) { box.textContent = ""; box.hidden = true; });
    var summary = document.getElementById("error-summary");
    if (summary) { summary.hidden = true; }
  };

  InspectionForm.prototype.showErrors = function (errors) {
    var summary = document.getElementById("error-summary");
    var list = document.getElementById("error-list");
    var self = this;
    list.textContent = "";
    errors.forEach(function (e) {
      var li = document.createElement("li");
      var placed = e.field && self.error(e.field, e.message);
      if (placed && e.label) {
        var a = document.createElement("a");
        a.href = "#" + e.field;
        a.className = "link-danger";
        a.textContent = e.label + ": " + e.message;
        li.appendChild(a);
      } else {
        li.textContent = e.label ? e.label + ": " + e.message : e.message;
      }
      list.appendChild(li);
    });
    summary.hidden = false;
    summary.scrollIntoView({ block: "start" });
    summary.focus({ preventScroll: true });
  };

  InspectionForm.prototype.payload = function () {
    var body = new FormData(this.form);
    $all("input.photo-input", this.form).forEach(function (input) { body["delete"](input.name); });
    this.photos.forEach(function (p) { body.append("photo-" + p.code, p.blob, p.name); });
    body.set("idempotency_key", this.keyInput.value);
    return body;
  };

  InspectionForm.prototype.queue = function () {
    this.save({ queued: true });
    this.say(this.data.msgQueued, true);
    this.showQueued(true);
  };

  /* "Waiting to send" stays on screen (beside the draft's own status, which each keystroke
     rewrites) until the inspection is sent or the server refuses it. */
  InspectionForm.prototype.showQueued = function (on) {
    var box = document.getElementById("send-queued");
    if (box) { box.hidden = !on; }
  };

  /* Sent: "已提交" with the link to the saved inspection. A send the inspector tapped goes on to the
     record; one that waited for the connection stays here, so the confirmation is seen. */
  InspectionForm.prototype.sent = function (answer, fromQueue) {
    var box = document.getElementById("send-done");
    this.showQueued(false);
    if (box) {
      var link = box.querySelector("a");
      if (link) { link.href = answer.redirect; }
      box.hidden = false;
      box.scrollIntoView({ block: "center" });
    }
    this.sendButton.hidden = true;
    this.discardButton.hidden = true;
    this.say("");
    if (!fromQueue) { window.location.assign(answer.redirect + (answer.redirect.indexOf("?") < 0 ? "?" : "&") + "sent=1"); }
  };

  InspectionForm.prototype.send = function (fromQueue) {
    var self = this, data = this.data;
    if (this.sending || this.done) { return; }
    this.clearErrors();
    this.save();
    if (!Connection.up) { this.queue(); return; }
    this.sending = true;
    this.sendButton.disabled = true;
    this.say(data.msgSending);
    fetch(this.form.action, { method: "POST", body: this.payload(), credentials: "same-origin", cache: "no-store",
                              headers: { "Accept": "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === 0) {
          return response.json().then(function (answer) {
            if (answer.ok) {
              self.done = true;
              return self.discard().then(function () { self.sent(answer, fromQueue); });
            }
            self.save({ queued: false });
            self.showQueued(false);
            self.showErrors(answer.errors || []);
            self.say(data.msgSaved.replace("__TIME__", clock(Date.now())));
          });
        }
        self.save({ queued: false });
        self.showQueued(false);
        if (response.status === 413) { self.showErrors([{ message: data.msgTooBig }]); }
        else if (response.redirected || response.status === 400 || response.status === 403) {
          self.showErrors([{ message: data.msgExpired }]);
        } else { self.showErrors([{ message: data.msgFailed }]); }
      }, function () {
        // No answer: offline (send by itself when the connection returns) or the server is down.
        Connection.probe().then(function (up) { if (up) { self.say(data.msgFailed, true); } else { self.queue(); } });
      })
      .then(function () { self.sending = false; self.sendButton.disabled = false; });
  };

  InspectionForm.prototype.start = function () {
    var self = this, form = this.form;
    form.addEventListener("input", function () { self.saveSoon(); });
    form.addEventListener("change", function () { self.markProblems(); self.saveSoon(); });
    form.addEventListener("submit", function (event) { event.preventDefault(); self.send(false); });
    this.discardButton.addEventListener("click", function () {
      if (window.confirm(self.data.msgDiscard)) { self.discard().then(function () { window.location.reload(); }); }
    });
    Connection.on(function (up) { if (up && self.draft && self.draft.queued) { self.send(true); } });
    this.watchPhotos();
    return this.restore().then(function () {
      self.markProblems();
      self.signaturePad();
      self.readingHelper();
      form.classList.add("is-ready");
      if (self.draft && self.draft.queued) { self.showQueued(true); }
      if (self.draft && self.draft.queued && Connection.up) { self.send(true); }
    });
  };

  /* --- the service worker keeps the visit pages for a reload without a connection --- */
  var CACHE = "registry-visits-v1";

  function registerWorker(el) {
    if (!el || !("serviceWorker" in navigator) || !el.dataset.swUrl) { return Promise.reject(new Error("no worker")); }
    return navigator.serviceWorker.register(el.dataset.swUrl, { scope: el.dataset.swScope })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function () {
        if (!window.caches) { throw new Error("no cache"); }
        var assets = (el.dataset.offlineAssets || "").split(" ").filter(Boolean);
        return caches.open(CACHE).then(function (cache) {
          return cache.addAll([window.location.pathname + window.location.search].concat(assets)).then(function () { return cache; });
        });
      });
  }

  function offlinePages(form) {
    registerWorker(form)["catch"](function () { /* without it the draft still survives; only an offline reload fails */ });
  }

  /* --- a day prepared in advance: "my visits" keeps every visit page of the list on the device,
     with a "ready offline" mark per visit (checked again at each opening of the list) --- */
  function markReady(card, ready) {
    var mark = card.querySelector(".offline-mark");
    if (mark) { mark.hidden = !ready; }
    card.classList.toggle("is-offline-ready", ready);
  }

  function checkMarks(cards) {
    if (!window.caches) { return Promise.resolve(0); }
    return caches.open(CACHE).then(function (cache) {
      return Promise.all(cards.map(function (card) {
        return cache.match(card.dataset.offlineUrl, { ignoreVary: true }).then(function (hit) {
          markReady(card, !!hit);
          return hit ? 1 : 0;
        });
      }));
    }).then(function (counts) { return counts.reduce(function (a, b) { return a + b; }, 0); });
  }

  function prepareDay(pageEl) {
    var button = document.getElementById("prepare-offline");
    var status = document.getElementById("prepare-status");
    var cards = $all("[data-offline-url]", pageEl);
    if (!button || !cards.length) { return; }
    var data = pageEl.dataset;
    function say(text) { if (status) { status.textContent = text; } }
    registerWorker(pageEl).then(function () { return checkMarks(cards); }).then(function (n) {
      button.hidden = false;
      if (n) { say(data.msgReady.replace("__N__", n).replace("__TOTAL__", cards.length)); }
    })["catch"](function () { /* no service worker: nothing can be kept, the button stays hidden */ });
    button.addEventListener("click", function () {
      button.disabled = true;
      say(data.msgPreparing);
      caches.open(CACHE).then(function (cache) {
        return cards.reduce(function (done, card) {
          return done.then(function () {
            return fetch(card.dataset.offlineUrl, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
              if (!response.ok || response.redirected) { throw new Error("not kept"); }
              return cache.put(card.dataset.offlineUrl, response).then(function () { markReady(card, true); });
            })["catch"](function () { markReady(card, false); });
          });
        }, Promise.resolve());
      }).then(function () { return checkMarks(cards); }).then(function (n) {
        say(data.msgReady.replace("__N__", n).replace("__TOTAL__", cards.length));
      }, function () { say(data.msgPrepareFailed); }).then(function () { button.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    offlineBanner();
    var form = document.getElementById("inspection-form");
    if (form) {
      new InspectionForm(form).start();
      offlinePages(form);
    }
    var visits = document.getElementById("visits-page");
    if (visits) { prepareDay(visits); }
  });
})();
