/* The raw view of an item: CodeMirror 5 (vendored) over the form's textarea, YAML or Python by the
 * item's file name, with line numbers; the server's problems (file:line) are marked on their lines
 * and a click on one puts the cursor there. The textarea is what the form posts (CodeMirror keeps it
 * up to date on submit), so the page works without JavaScript too. */
(function () {
  "use strict";
  var area = document.getElementById("raw-text");
  if (!area || !window.CodeMirror) return;
  var python = /\.py$/.test(area.dataset.item || "");
  var indent = python ? "    " : "  ";  // YAML forbids tabs
  var cm = window.CodeMirror.fromTextArea(area, {
    mode: python ? "python" : "yaml", lineNumbers: true, indentUnit: indent.length, viewportMargin: Infinity,
    gutters: ["CodeMirror-linenumbers", "ed-problems"],
    extraKeys: {Tab: function (c) { c.replaceSelection(indent); }}
  });
  cm.setSize(null, Math.min(Math.max(cm.lineCount() * 20 + 40, 240), 720));
  window.loomRawEditor = cm;  // for tests and the console
  Array.prototype.forEach.call(document.querySelectorAll("#raw-errors li[data-line]"), function (li) {
    var line = parseInt(li.getAttribute("data-line"), 10);
    if (!line || line > cm.lineCount()) return;
    var mark = document.createElement("span");
    mark.className = "ed-gutter-mark error";
    mark.textContent = "●";
    mark.title = li.textContent.trim();
    mark.setAttribute("data-line", String(line));
    cm.setGutterMarker(line - 1, "ed-problems", mark);
    cm.addLineClass(line - 1, "background", "ed-line-error");
    li.classList.add("dz-goto");
    li.addEventListener("click", function () { cm.focus(); cm.setCursor({line: line - 1, ch: 0}); });
  });
})();
