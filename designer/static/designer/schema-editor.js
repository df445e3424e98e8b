/* The schema-driven editor: the whole item (or one entity key) as a form generated from its
 * JSON Schema by schemaform.js. A new metadata kind gets this editor without new code. */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA;
  var container = document.getElementById("schema-editor");
  if (!container) return;
  var value = E.readJSON(undefined);
  var root = E.SchemaForm.render(D.schema, value === null ? undefined : value,
                                 {path: D.root || "", name: D.root || "", hints: D.hints});
  container.innerHTML = "";
  container.appendChild(root.el);
  function sync() {
    var v = root.get();
    E.writeJSON(v === undefined ? null : v);
  }
  container.addEventListener("input", sync);
  container.addEventListener("change", sync);
  document.getElementById("editor-form").addEventListener("submit", sync);
  sync();
  E.ready();
})();
