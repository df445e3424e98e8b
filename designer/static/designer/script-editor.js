/* The script editor: CodeMirror 5 (vendored) with Python highlighting; the server compiles the
 * source as the sandbox will (POST .../check, also while typing) and the problems become gutter
 * markers on their lines; the dry run (POST .../dry-run) runs a function of the source in the
 * editor against a published record and shows result, changes, log and the error's line. */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA, el = E.el, T = E.T;
  var area = document.getElementById("script-source");
  if (!area || !window.CodeMirror) return;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var cm = window.CodeMirror.fromTextArea(area, {
    mode: "python", lineNumbers: true, indentUnit: 4, matchBrackets: true, viewportMargin: Infinity,
    gutters: ["CodeMirror-linenumbers", "ed-problems"],
    extraKeys: {Tab: function (c) { c.replaceSelection("    "); }}
  });
  cm.setSize(null, 440);
  window.loomScriptEditor = cm;  // for tests and the console
  var statusEl = document.getElementById("check-status");
  var listEl = document.getElementById("check-problems");
  var lineHandles = [];

  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
                       body: JSON.stringify(body)}).then(function (r) { return r.json(); });
  }

  function clearMarks() {
    cm.clearGutter("ed-problems");
    lineHandles.forEach(function (h) { cm.removeLineClass(h.line, "background", h.cls); });
    lineHandles = [];
  }

  function markLine(line, severity, message) {
    if (!line || line < 1 || line > cm.lineCount()) return;
    var marker = el("span", {class: "ed-gutter-mark " + severity, title: message, text: severity === "error" ? "●" : "▲",
                             dataset: {line: String(line)}});
    cm.setGutterMarker(line - 1, "ed-problems", marker);
    var cls = "ed-line-" + severity;
    lineHandles.push({line: cm.addLineClass(line - 1, "background", cls), cls: cls});
  }

  function show(problems) {
    clearMarks();
    listEl.innerHTML = "";
    problems.forEach(function (p) {
      markLine(p.line, p.severity || "error", p.message);
      listEl.appendChild(el("li", {class: "ed-script-problem " + (p.severity || "error"), dataset: {line: p.line ? String(p.line) : ""}}, [
        p.line ? el("button", {type: "button", class: "link", text: T("Line {line}", {line: p.line}),
                               onclick: function () { cm.focus(); cm.setCursor({line: p.line - 1, ch: 0}); }}) : null,
        " " + p.message]));
    });
    statusEl.textContent = problems.length ? "" : T("No problems found.");
    statusEl.className = "hint " + (problems.some(function (p) { return (p.severity || "error") === "error"; }) ? "error" : "ok");
  }

  var pending = 0;
  function check() {
    var ticket = ++pending;
    statusEl.textContent = T("Checking…");
    return post(D.checkUrl, {source: cm.getValue()}).then(function (data) {
      if (ticket === pending) show(data.problems || []);
    }).catch(function (e) { statusEl.textContent = String(e); });
  }

  var timer = null;
  cm.on("changes", function () {
    var dirty = document.getElementById("dirty");
    if (dirty) dirty.hidden = false;
    refreshFunctions();
    clearTimeout(timer);
    timer = setTimeout(check, 700);
  });
  document.getElementById("check").addEventListener("click", check);
  document.getElementById("editor-form").addEventListener("submit", function () { cm.save(); });

  /* ------------------------------------------------------------ dry run */
  var fnSelect = document.getElementById("dry-function");
  function refreshFunctions() {
    var current = fnSelect.value;
    var names = [], re = /^def\s+([A-Za-z_]\w*)\s*\(/gm, m;
    var src = cm.getValue();
    while ((m = re.exec(src))) names.push(m[1]);
    fnSelect.innerHTML = "";
    names.forEach(function (n) { fnSelect.appendChild(el("option", {value: n, text: n})); });
    if (names.indexOf(current) >= 0) fnSelect.value = current;
  }
  refreshFunctions();

  function block(title, value, cls) {
    return el("div", {class: "ed-dry-block " + (cls || "")}, [el("h4", {text: title}),
      el("pre", {text: typeof value === "string" ? value : JSON.stringify(value, null, 2)})]);
  }

  document.getElementById("dry-run-button").addEventListener("click", function () {
    var out = document.getElementById("dry-run-output");
    out.innerHTML = "";
    out.appendChild(el("p", {class: "hint", text: T("Running…")}));
    var entity = document.getElementById("dry-entity");
    post(D.dryRunUrl, {source: cm.getValue(), "function": fnSelect.value, entity: entity ? entity.value : null,
                       record_id: document.getElementById("dry-record").value || null}).then(function (data) {
      out.innerHTML = "";
      out.className = "ed-dry-output " + (data.ok ? "ok" : "failed");
      if (data.ok) {
        out.appendChild(block(T("Result"), data.result === undefined ? null : data.result, "result"));
        out.appendChild(block(T("Changes"), data.changes || {}, "changes"));
      } else {
        var err = data.error || {};
        var line = err.line;
        var msg = (err.script && err.script.message) || err.detail || err.title || "";
        out.appendChild(block(T("Error") + (line ? " · " + T("Line {line}", {line: line}) : ""), msg, "error"));
        if (line) { markLine(line, "error", msg); cm.scrollIntoView({line: line - 1, ch: 0}, 80); }
      }
      if (data.logs && data.logs.length) out.appendChild(block(T("Log"), data.logs.join("\n"), "log"));
      if (data.report) out.appendChild(el("p", {class: "hint", text: data.report.steps + " steps · " + data.report.duration_ms + " ms"}));
    }).catch(function (e) { out.textContent = String(e); });
  });

  // problems the server found on save, then a fresh check
  if (D.errors && D.errors.length) show(D.errors.map(function (e) { return {line: e.line, message: e.message, severity: "error"}; }));
  check();
  E.ready();
})();
