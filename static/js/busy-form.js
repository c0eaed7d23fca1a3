// Long imports: after submitting, show that the server is working and stop a second submission.
document.querySelectorAll("form.js-busy-form").forEach(function (form) {
  form.addEventListener("submit", function () {
    var note = form.querySelector(".js-busy-note");
    if (note) { note.classList.remove("d-none"); }
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  });
});
