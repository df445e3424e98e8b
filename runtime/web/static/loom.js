// Loom UI: form tabs, child-table rows and the CSRF header for htmx requests. No dependencies.
(function () {
  "use strict";
  function initTabs(form) {
    var buttons = form.querySelectorAll(".tabs [data-tab]");
    if (!buttons.length) return;
    function show(id) {
      buttons.forEach(function (b) { b.classList.toggle("active", b.dataset.tab === id); b.setAttribute("aria-selected", b.dataset.tab === id); });
      form.querySelectorAll(".tab-panel").forEach(function (p) { p.hidden = p.id !== id; });
    }
    buttons.forEach(function (b) { b.addEventListener("click", function () { show(b.dataset.tab); }); });
    var withError = form.querySelector(".tabs .has-error");
    form.classList.add("tabbed");
    show((withError || buttons[0]).dataset.tab);
  }
  function initChildTables(root) {
    root.querySelectorAll(".child-table").forEach(function (box) {
      var body = box.querySelector("tbody");
      box.querySelector(".add-row").addEventListener("click", function () {
        var i = parseInt(box.dataset.next || "0", 10);
        box.dataset.next = i + 1;
        var html = box.querySelector("template").innerHTML.replace(/__i__/g, String(i));
        body.insertAdjacentHTML("beforeend", html);
      });
      box.addEventListener("click", function (ev) {
        if (ev.target.classList.contains("remove-row")) ev.target.closest("tr").remove();
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.record-form").forEach(initTabs);
    initChildTables(document);
    var token = document.querySelector('meta[name="csrf-token"]');
    document.body.addEventListener("htmx:configRequest", function (ev) {
      if (token) ev.detail.headers["X-CSRFToken"] = token.content;
    });
  });
})();
