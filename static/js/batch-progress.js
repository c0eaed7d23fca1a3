/* Progress of a job (a batch of certificates, an import's check): polls the job's JSON until it
   is done or failed, soon at first (a small file's check takes a moment), then every second.
   With data-follow the page goes on to the result once it is done.
   No inline script: the page carries the address in data-progress-url. */
(function () {
  "use strict";
  var box = document.getElementById("batch-progress");
  if (!box || !window.fetch) { return; }
  var bar = box.querySelector("progress");
  var message = document.getElementById("batch-message");
  var download = document.getElementById("batch-download");
  var url = box.getAttribute("data-progress-url");
  var polls = 0;

  function show(job) {
    bar.max = Math.max(job.total || 0, 1);
    bar.value = job.done || 0;
    message.textContent = job.message || "";
    box.setAttribute("data-state", job.state);
    if (job.state === "done") {
      download.hidden = false;
      if (box.hasAttribute("data-follow")) { window.location.assign(download.href); } else { download.focus(); }
    }
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (job) {
        show(job);
        polls += 1;
        if (job.state !== "done" && job.state !== "failed") { window.setTimeout(poll, Math.min(1000, 200 * polls)); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  if (box.getAttribute("data-state") !== "done" && box.getAttribute("data-state") !== "failed") { poll(); }
}());
