/* Progress of a batch of certificates: polls the job's JSON until it is done or failed.
   No inline script: the page carries the address in data-progress-url. */
(function () {
  "use strict";
  var box = document.getElementById("batch-progress");
  if (!box || !window.fetch) { return; }
  var bar = box.querySelector("progress");
  var message = document.getElementById("batch-message");
  var download = document.getElementById("batch-download");
  var url = box.getAttribute("data-progress-url");

  function show(job) {
    bar.max = Math.max(job.total || 0, 1);
    bar.value = job.done || 0;
    message.textContent = job.message || "";
    box.setAttribute("data-state", job.state);
    if (job.state === "done") { download.hidden = false; download.focus(); }
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (job) {
        show(job);
        if (job.state !== "done" && job.state !== "failed") { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  if (box.getAttribute("data-state") !== "done" && box.getAttribute("data-state") !== "failed") { poll(); }
}());
