// Console behaviour that htmx does not cover. No framework; served from our own static files.
(function () {
  "use strict";
  // F12: a page restored from the back-forward cache after logout must not show console content.
  // Cache-Control: no-store already keeps such pages out of the cache; this also covers browsers
  // that restore them anyway: reload, and the server answers with the login page.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
  // "Select all" checkbox of the member table.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=member]").forEach(function (each) { each.checked = box.checked; });
    }
  });
})();
// Long form posts (a big CSV import): show the "working" note and keep the button from a second click.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches("[data-busy-form]")) { return; }
  form.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
  var note = form.querySelector(".busy-indicator");
  if (note) { note.hidden = false; }
});
// Attachments of a broadcast: the size limit is checked when files are chosen, before any upload.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) { return; }
  var total = 0;
  Array.prototype.forEach.call(input.files, function (file) { total += file.size; });
  var note = input.parentNode.querySelector(".attachment-error");
  var tooLarge = total > Number(input.dataset.maxBytes);
  if (note) { note.hidden = !tooLarge; note.textContent = tooLarge ? note.dataset.tooLargeText : ""; }
  if (tooLarge) { input.value = ""; }
});
