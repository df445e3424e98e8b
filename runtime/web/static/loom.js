// Loom UI: form tabs, child-table rows, link combo boxes, transition dialogs, bulk-delete
// confirmation and the CSRF header for htmx requests. No dependencies.
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
  // A link field is one control: type, pick from the list; the id goes to the hidden input(s).
  function initCombo(box) {
    var input = box.querySelector(".combo-input"), list = box.querySelector(".combo-list");
    var multi = box.classList.contains("multi"), timer = null, active = -1, seq = 0;
    function items() { return list.querySelectorAll("[role=option]"); }
    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; }
    function highlight(i) {
      var all = items(); if (!all.length) return;
      active = (i + all.length) % all.length;
      all.forEach(function (li, k) { li.setAttribute("aria-selected", k === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", all[active].id);
    }
    function chosenIds() {
      return Array.prototype.map.call(box.querySelectorAll("input[type=hidden][name='" + box.dataset.name + "']"),
                                      function (h) { return h.value; });
    }
    function choose(li) {
      var id = li.dataset.value, text = li.textContent;
      if (multi) {
        if (chosenIds().indexOf(id) < 0) {
          var chip = document.createElement("span");
          chip.className = "chip"; chip.dataset.value = id; chip.textContent = text;
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = box.dataset.name; hidden.value = id;
          var x = document.createElement("button");
          x.type = "button"; x.className = "link chip-x"; x.textContent = "×"; x.setAttribute("aria-label", text);
          chip.appendChild(hidden); chip.appendChild(x);
          box.querySelector(".combo-chips").appendChild(chip);
        }
        input.value = "";
      } else {
        box.querySelector(".combo-value").value = id;
        input.value = input.dataset.chosen = text;
      }
      close();
      box.querySelector(".combo-value, input[type=hidden]").dispatchEvent(new Event("change", {bubbles: true}));
    }
    // A filtered link sends the values of the fields its filter reads ("*": every field).
    var form = box.closest("form"), depends = (box.dataset.depends || "").split(" ").filter(Boolean);
    function dependsOn(name) {
      return name && name !== box.dataset.name && name !== "csrf_token" && name !== "row_version" &&
        (depends.indexOf("*") >= 0 || depends.indexOf(name) >= 0);
    }
    function recordArgs() {
      if (!form || !depends.length) return "";
      var out = "";
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!dependsOn(el.name) || el.type === "file" || el.classList.contains("combo-input")) return;
        if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
        out += "&" + encodeURIComponent(el.name) + "=" + encodeURIComponent(el.value);
      });
      return out;
    }
    function search(then) {
      var mine = ++seq, url = box.dataset.url + (box.dataset.url.indexOf("?") < 0 ? "?" : "&") +
        "format=json&q=" + encodeURIComponent(then ? "" : input.value) + recordArgs();
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) {
          if (mine !== seq) return;  // a newer search answered first
          if (then) { then(rows); return; }
          list.innerHTML = "";
          var taken = multi ? chosenIds() : [];
          rows.filter(function (r) { return taken.indexOf(String(r.id)) < 0; }).forEach(function (r, k) {
            var li = document.createElement("li");
            li.setAttribute("role", "option"); li.id = input.id + "-opt-" + k;
            li.dataset.value = r.id; li.textContent = r.text;
            list.appendChild(li);
          });
          if (!list.children.length) {
            var none = document.createElement("li"); none.className = "none"; none.textContent = box.dataset.empty;
            list.appendChild(none);
          }
          list.hidden = false; input.setAttribute("aria-expanded", "true"); active = -1;
        });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 200); });
    input.addEventListener("focus", function () { if (!list.children.length || list.hidden) search(); });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown") { ev.preventDefault(); if (list.hidden) search(); else highlight(active + 1); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); highlight(active - 1); }
      else if (ev.key === "Enter" && !list.hidden && active >= 0) { ev.preventDefault(); choose(items()[active]); }
      else if (ev.key === "Escape") { close(); }
    });
    list.addEventListener("mousedown", function (ev) {  // before the input's blur
      var li = ev.target.closest("[role=option]");
      if (li) { ev.preventDefault(); choose(li); }
    });
    input.addEventListener("blur", function () {
      setTimeout(close, 100);
      if (multi) { input.value = ""; return; }
      if (input.value.trim() === "") {  // cleared: no link
        box.querySelector(".combo-value").value = ""; input.dataset.chosen = "";
      } else { input.value = input.dataset.chosen || ""; }  // typed but not picked: keep the choice
    });
    box.addEventListener("click", function (ev) {
      if (ev.target.classList.contains("chip-x")) { ev.target.closest(".chip").remove(); }
    });
    // When a field the filter reads changes, the offered records change: a chosen one that is no
    // longer offered is cleared, and the next search asks again.
    if (form && depends.length) {
      form.addEventListener("change", function (ev) {
        if (!dependsOn(ev.target.name) || box.contains(ev.target)) return;
        list.innerHTML = ""; list.hidden = true;
        search(function (rows) {
          var offered = rows.map(function (r) { return String(r.id); });
          if (multi) {
            box.querySelectorAll(".chip").forEach(function (chip) {
              if (offered.indexOf(chip.dataset.value) < 0) chip.remove();
            });
          } else {
            var hidden = box.querySelector(".combo-value");
            if (hidden.value && offered.indexOf(hidden.value) < 0) {
              hidden.value = ""; input.value = input.dataset.chosen = "";
              hidden.dispatchEvent(new Event("change", {bubbles: true}));
            }
          }
          box.dataset.offered = offered.join(" ");  // what the last refresh offered (tests read it)
        });
      });
    }
  }
  // A transition that asks for fields opens its dialog; the page opens one itself after a refusal.
  function initTransitions(root) {
    root.querySelectorAll("button[data-dialog]").forEach(function (b) {
      b.addEventListener("click", function (ev) {
        var dialog = document.getElementById(b.dataset.dialog);
        if (dialog && dialog.showModal) { ev.preventDefault(); dialog.showModal(); }
      });
    });
    root.querySelectorAll("dialog.transition-dialog").forEach(function (d) {
      d.querySelectorAll("[data-close]").forEach(function (c) { c.addEventListener("click", function () { d.close(); }); });
      if (d.dataset.open === "1" && d.showModal) d.showModal();
    });
  }
  function initBulk(form) {
    form.addEventListener("submit", function (ev) {
      var action = form.elements.action;
      if (action && action.value === "delete" && !window.confirm(form.dataset.confirmDelete)) ev.preventDefault();
    });
    // The bulk bar shows only while rows are selected; nothing in it is chosen in advance.
    var boxes = function () { return document.querySelectorAll("input[name=id][form=bulk]"); };
    var counter = form.querySelector(".selected-count");
    function refresh() {
      var n = Array.prototype.filter.call(boxes(), function (b) { return b.checked; }).length;
      form.hidden = n === 0;
      if (counter) counter.textContent = (document.documentElement.lang === "en" ? "Selected: " : "Выбрано: ") + n;
    }
    document.addEventListener("change", function (ev) {
      if (ev.target.matches("[data-select-all]")) boxes().forEach(function (b) { b.checked = ev.target.checked; });
      if (ev.target.matches("[data-select-all], input[name=id][form=bulk]")) refresh();
    });
    refresh();
  }
  function initListTools() {
    var chooser = document.querySelector("form[data-columns]");
    if (chooser) chooser.addEventListener("submit", function () {
      chooser.elements.columns.value = Array.prototype.filter.call(
        chooser.querySelectorAll("input[type=checkbox]"), function (b) { return b.checked; })
        .map(function (b) { return b.value; }).join(",");
    });
    document.querySelectorAll("[data-quick]").forEach(function (el) {
      var form = document.getElementById("quick");
      if (el.tagName === "SELECT") el.addEventListener("change", function () { form.requestSubmit(); });
      else el.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); form.requestSubmit(); } });
    });
    // One toolbar pop-up open at a time.
    var menus = document.querySelectorAll(".list-head > details");
    menus.forEach(function (d) {
      d.addEventListener("toggle", function () {
        if (d.open) menus.forEach(function (o) { if (o !== d) o.open = false; });
      });
    });
  }
  function pollUnread() {
    // The top bar's unread count follows new notifications without a reload.
    var link = document.getElementById("nav-notifications");
    if (!link || !link.dataset.countUrl) return;
    function tick() {
      fetch(link.dataset.countUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var badge = document.getElementById("unread-count");
          if (!data.text) { if (badge) badge.remove(); return; }
          if (!badge) {
            badge = document.createElement("span");
            badge.id = "unread-count";
            badge.className = "badge count-badge";
            link.appendChild(document.createTextNode(" "));
            link.appendChild(badge);
          }
          badge.textContent = data.text;
        })
        .catch(function () {});
    }
    setInterval(tick, parseInt(link.dataset.pollMs || "30000", 10));
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.record-form").forEach(initTabs);
    initChildTables(document);
    document.querySelectorAll(".combo").forEach(initCombo);
    initTransitions(document);
    document.querySelectorAll("form#bulk").forEach(initBulk);
    initListTools();
    pollUnread();
    var token = document.querySelector('meta[name="csrf-token"]');
    document.body.addEventListener("htmx:configRequest", function (ev) {
      if (token) ev.detail.headers["X-CSRFToken"] = token.content;
    });
  });
})();
