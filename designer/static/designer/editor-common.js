/* Loom designer editors: shared helpers. Vanilla JS, no build step.
 *
 * Every editor page has <script id="editor-data"> (JSON from the server: hints, translated UI
 * strings, schema errors) and a hidden <textarea name="json"> that the widget keeps in sync;
 * the form posts it. Elements carry data-path="<dotted.path>" so that #fragments in links and
 * schema errors can find them.
 */
(function () {
  "use strict";
  var dataEl = document.getElementById("editor-data");
  var DATA = dataEl ? JSON.parse(dataEl.textContent) : {};
  var I18N = DATA.i18n || {};
  var textarea = document.getElementById("editor-json");
  var seq = 0;

  function T(s, kw) {
    var text = I18N[s] || s;
    if (kw) Object.keys(kw).forEach(function (k) { text = text.split("{" + k + "}").join(kw[k]); });
    return text;
  }

  /* el("div", {class: "x", onclick: fn, dataset: {path: "a"}}, [children or text]) */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k.slice(0, 2) === "on" && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.keys(v).forEach(function (d) { node.dataset[d] = v[d]; });
      else if (k === "text") node.textContent = v;
      else if (k === "value") node.value = v;
      else if (k === "checked") node.checked = !!v;
      else node.setAttribute(k, v === true ? "" : v);
    });
    [].concat(children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return node;
  }

  /* a picked code as its title with the code small beside it (the code alone when it has no title) */
  function codeLabel(code) {
    var title = (DATA.hintTitles || {})[code];
    return title ? [title + " ", el("small", {class: "ed-code", text: String(code)})] : [String(code)];
  }
  function codeText(code) {
    var title = (DATA.hintTitles || {})[code];
    return title ? title + " · " + code : String(code);
  }

  function uid(prefix) { seq += 1; return (prefix || "ed") + "-" + seq; }

  function titleText(title, fallback) {
    if (!title) return fallback || "";
    if (typeof title === "string") return title;
    return title[DATA.lang] || title.ru || title.en || Object.keys(title).map(function (k) { return title[k]; })[0] || fallback || "";
  }

  /* ru/en inputs for a {ru, en} title; get() gives the title back (a plain string stays a
     string while untouched), or undefined when both are empty. */
  function titleInputs(value, opts) {
    opts = opts || {};
    var original = value;
    var obj = typeof value === "string" ? {ru: value} : Object.assign({}, value || {});
    var box = el("span", {class: "ed-title-inputs", dataset: opts.path !== undefined ? {path: opts.path} : {}});
    var ru = el("input", {type: "text", value: obj.ru || "", placeholder: "ru", "aria-label": (opts.label || T("Title")) + " (ru)",
                          class: "ed-title-ru", name: opts.name ? opts.name + "-ru" : null});
    var en = el("input", {type: "text", value: obj.en || "", placeholder: "en", "aria-label": (opts.label || T("Title")) + " (en)",
                          class: "ed-title-en", name: opts.name ? opts.name + "-en" : null});
    box.appendChild(ru); box.appendChild(en);
    return {
      el: box, ru: ru, en: en,
      get: function () {
        var r = ru.value.trim(), e = en.value.trim();
        if (typeof original === "string" && r === original && !e) return original;
        var out = {};
        Object.keys(obj).forEach(function (k) { if (k !== "ru" && k !== "en" && obj[k]) out[k] = obj[k]; });
        if (r) out.ru = r;
        if (e) out.en = e;
        return Object.keys(out).length ? out : undefined;
      }
    };
  }

  function readJSON(fallback) {
    if (!textarea) return fallback;
    try { var v = JSON.parse(textarea.value || "null"); return v === null ? fallback : v; } catch (e) { return fallback; }
  }

  var lastWritten = null;
  function writeJSON(value) {
    if (!textarea) return;
    var text = JSON.stringify(value === undefined ? null : value);
    if (lastWritten !== null && text !== lastWritten) {
      var dirty = document.getElementById("dirty");
      if (dirty) dirty.hidden = false;
    }
    lastWritten = text;
    textarea.value = text;
  }

  function datalist(key, values) {
    if (!values || !values.length) return null;
    var id = "dl-" + key.replace(/[^a-z0-9_-]/gi, "_");
    if (!document.getElementById(id)) {
      document.body.appendChild(el("datalist", {id: id}, values.map(function (v) { return el("option", {value: v}); })));
    }
    return id;
  }

  function moveItem(list, index, delta) {
    var to = index + delta;
    if (to < 0 || to >= list.length) return false;
    var item = list.splice(index, 1)[0];
    list.splice(to, 0, item);
    return true;
  }

  /* The element whose data-path is the longest prefix of `path` (at a . or [ boundary). */
  function findPath(path, root) {
    if (path === undefined || path === null) return null;
    var best = null, bestLen = -1;
    (root || document).querySelectorAll("[data-path]").forEach(function (node) {
      var p = node.dataset.path;
      if (p === "" && path !== "") { if (bestLen < 0) { best = node; bestLen = 0; } return; }
      if (path === p || (path.indexOf(p) === 0 && (path.charAt(p.length) === "." || path.charAt(p.length) === "["))) {
        if (p.length > bestLen) { best = node; bestLen = p.length; }
      }
    });
    return best;
  }

  var hooks = [];
  function onHighlight(fn) { hooks.push(fn); }

  function highlight(path) {
    if (!path) return null;
    hooks.forEach(function (fn) { fn(path); });
    var node = findPath(path);
    if (!node) return null;
    document.querySelectorAll(".ed-target").forEach(function (n) { n.classList.remove("ed-target"); });
    node.classList.add("ed-target");
    var details = node.closest("details");
    while (details) { details.open = true; details = details.parentElement && details.parentElement.closest("details"); }
    if (node.scrollIntoView) node.scrollIntoView({block: "center"});
    var input = node.matches("input,select,textarea") ? node : node.querySelector("input,select,textarea");
    if (input && input.focus) input.focus({preventScroll: true});
    return node;
  }

  function markErrors(errors) {
    (errors || []).forEach(function (e) {
      var node = findPath(e.path || "");
      if (!node || node.dataset.path === "" && e.path) return;
      node.classList.add("ed-invalid");
      node.appendChild(el("span", {class: "error ed-error-text", role: "note", text: e.message}));
    });
  }

  function ready() {
    markErrors(DATA.errors);
    var hash = decodeURIComponent((location.hash || "").slice(1));
    if (hash) highlight(hash);
    /* a tab link with unsaved changes saves them on the way, so no click is lost */
    document.querySelectorAll(".ed-tabs a, a.ed-save-and-go").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        if (document.activeElement && document.activeElement.blur) document.activeElement.blur();  // fires a pending change
        var dirty = document.getElementById("dirty"), form = document.getElementById("editor-form");
        var next = document.getElementById("editor-next");
        if (!dirty || dirty.hidden || !form || !next) return;
        ev.preventDefault();
        next.value = a.getAttribute("href");
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      });
    });
    document.querySelectorAll("a[data-error-path]").forEach(function (a) {
      a.addEventListener("click", function (ev) { ev.preventDefault(); highlight(a.dataset.errorPath); });
    });
  }
  window.addEventListener("hashchange", function () { highlight(decodeURIComponent(location.hash.slice(1))); });

  window.LoomEd = {DATA: DATA, T: T, el: el, uid: uid, titleText: titleText, titleInputs: titleInputs,
                   codeLabel: codeLabel, codeText: codeText, readJSON: readJSON, writeJSON: writeJSON, datalist: datalist, moveItem: moveItem,
                   findPath: findPath, highlight: highlight, onHighlight: onHighlight, ready: ready};
})();
