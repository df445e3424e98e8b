/* The fields editor: the entity's titles, number pattern, title field, and its fields — add,
 * remove, reorder, rename, type, title, required, full-text search, and the options of the
 * chosen type (rendered from the entity schema's field definition; choices and a table's child
 * fields get editors of their own). Posts {title, plural, number, title_field, dictionary,
 * search, indexes, fields: [{name, was, spec}]}; "was" lets the server keep a renamed field's
 * data (previous_names). */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA, el = E.el, T = E.T;
  var container = document.getElementById("fields-editor");
  if (!container) return;
  var FS = D.fieldSchema, PROPS = FS.properties;
  var SPECIAL = ["type", "title", "required", "choices", "fields"];
  var model = E.readJSON({fields: []});
  var entityBox, listBox, indexBox, syncers = [];

  function optionKeys(type, spec) {
    var keys = (D.typeOptions[type] || []).concat(D.commonOptions);
    Object.keys(spec || {}).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    return keys.filter(function (k) { return SPECIAL.indexOf(k) < 0 && PROPS[k]; });
  }

  function coerceDefault(type, text) {
    if (text === undefined || text === "") return undefined;
    if (typeof text !== "string") return text;
    if (["integer", "decimal", "money"].indexOf(type) >= 0 && /^-?\d+(\.\d+)?$/.test(text.trim())) return Number(text.trim());
    if (type === "boolean") return text.trim() === "true" || text.trim() === "yes";
    return text;
  }

  /* ------------------------------------------------------------ choices */
  function choicesEditor(list, path) {
    var rows = (list || []).map(function (c) { return typeof c === "string" ? {value: c} : Object.assign({}, c); });
    var box = el("div", {class: "fd-choices", dataset: {path: path}});
    var nodes = [];
    function sync() { rows = nodes.map(function (n) { return n.get(); }); }
    function draw() {
      box.innerHTML = "";
      box.appendChild(el("div", {class: "fd-sub-head"}, [T("Choices")]));
      nodes = rows.map(function (c, i) {
        var value = el("input", {type: "text", class: "fd-choice-value", value: c.value || "", "aria-label": T("Value"), placeholder: T("Value")});
        var title = E.titleInputs(c.title, {label: T("Title")});
        var color = el("input", {type: "text", class: "fd-choice-color", value: c.color || "", "aria-label": T("Color"), placeholder: T("Color")});
        box.appendChild(el("div", {class: "fd-choice", dataset: {path: path + "[" + i + "]"}}, [value, title.el, color,
          el("button", {type: "button", class: "link", text: "↑", "aria-label": T("Move up"), onclick: function () { sync(); if (E.moveItem(rows, i, -1)) { draw(); changed(); } }}),
          el("button", {type: "button", class: "link", text: "↓", "aria-label": T("Move down"), onclick: function () { sync(); if (E.moveItem(rows, i, 1)) { draw(); changed(); } }}),
          el("button", {type: "button", class: "link fd-remove-choice", text: "✕", "aria-label": T("Remove"), onclick: function () { sync(); rows.splice(i, 1); draw(); changed(); }})]));
        return {get: function () {
          var out = {value: value.value.trim()};
          var tt = title.get();
          if (tt) out.title = tt;
          if (color.value.trim()) out.color = color.value.trim();
          return out;
        }};
      });
      var quick = el("input", {type: "text", class: "fd-choices-quick", "aria-label": T("Values, comma-separated"),
                               placeholder: T("Values, comma-separated")});
      quick.addEventListener("change", function () {
        sync();
        var known = rows.map(function (c) { return c.value; });
        quick.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean).forEach(function (v) {
          if (known.indexOf(v) < 0) { rows = rows.filter(function (c) { return c.value !== ""; }); rows.push({value: v}); known.push(v); }
        });
        draw(); changed();
      });
      box.appendChild(quick);
      box.appendChild(el("button", {type: "button", class: "fd-add-choice", text: "+ " + T("Add choice"),
        onclick: function () { sync(); rows.push({value: ""}); draw(); changed(); var v = box.querySelectorAll(".fd-choice-value"); v[v.length - 1].focus(); }}));
    }
    draw();
    return {el: box, get: function () {
      sync();
      var out = rows.filter(function (c) { return c.value !== ""; }).map(function (c) { return Object.keys(c).length === 1 ? c.value : c; });
      return out.length ? out : undefined;
    }};
  }

  /* ------------------------------------------------------------ one field row */
  function fieldRow(row, index, list, opts) {
    var spec = Object.assign({}, row.spec || {});
    var base = opts.path + ".";
    var box = el("div", {class: "fd-row", dataset: {path: base + row.name, index: String(index)}});
    var name = el("input", {type: "text", class: "fd-name", value: row.name, "aria-label": T("Name"), required: true, pattern: "[a-z][a-z0-9_]*"});
    var type = el("select", {class: "fd-type", "aria-label": T("Type")}, D.types.map(function (ty) { return el("option", {value: ty, text: (D.typeTitles || {})[ty] || ty}); }));
    type.value = spec.type || "string";
    var title = E.titleInputs(spec.title, {label: T("Title")});
    var required = el("input", {type: "checkbox", class: "fd-required", checked: !!spec.required, "aria-label": T("Required")});
    var search = opts.nested ? null : el("input", {type: "checkbox", class: "fd-search", checked: !!row.search, "aria-label": T("Full-text search")});
    var details = el("details", {class: "fd-options"});
    var summary = el("summary", {text: T("Options")});
    var optBody = el("div", {class: "fd-options-body"});
    details.appendChild(summary);
    details.appendChild(optBody);
    var optionNode = null, choices = null, children = null;

    function drawOptions(keep) {
      optBody.innerHTML = "";
      var ty = type.value;
      var keys = optionKeys(ty, keep);
      var sub = {type: "object", properties: {}};
      var values = {};
      keys.forEach(function (k) { sub.properties[k] = PROPS[k]; if (keep[k] !== undefined) values[k] = keep[k]; });
      // a default is typed as text and converted by the field's type (a choice's "3" stays a string)
      if (sub.properties["default"]) {
        var d = PROPS["default"];
        sub.properties["default"] = {type: "string", description: d.description, "x-title": d["x-title"], "x-description": d["x-description"]};
      }
      if (values["default"] !== undefined && typeof values["default"] !== "string") values["default"] = JSON.stringify(values["default"]);
      choices = ty === "choice" ? choicesEditor(keep.choices, base + row.name + ".choices") : null;
      if (choices) optBody.appendChild(choices.el);
      children = ty === "table" ? fieldList(Object.keys(keep.fields || {}).map(function (n) { return {name: n, spec: keep.fields[n]}; }),
                                           {nested: true, path: base + row.name + ".fields"}) : null;
      if (children) optBody.appendChild(el("div", {class: "fd-children"}, [el("div", {class: "fd-sub-head", text: T("Child fields")}), children.el]));
      optionNode = E.SchemaForm.render(sub, values, {path: base + row.name, hints: D.hints, defs: FS.$recursive_defs});
      optBody.appendChild(optionNode.el);
      var count = Object.keys(values).length + (keep.choices ? 1 : 0) + (keep.fields ? 1 : 0);
      summary.textContent = T("Options") + (count ? " (" + count + ")" : "");
    }
    drawOptions(spec);
    type.addEventListener("change", function () {
      var current = get().spec;
      var keep = {};
      optionKeys(type.value, {}).concat(["choices", "fields"]).forEach(function (k) { if (current[k] !== undefined) keep[k] = current[k]; });
      drawOptions(keep);
      if (type.value === "choice" || type.value === "table" || type.value === "link" || type.value === "multilink" || type.value === "computed") details.open = true;
    });
    name.addEventListener("input", function () { box.dataset.path = base + name.value.trim(); });

    var buttons = el("span", {class: "fd-buttons"}, [
      el("button", {type: "button", class: "link fd-up", text: "↑", title: T("Move up"), "aria-label": T("Move up"), onclick: function () { opts.move(index, -1); }}),
      el("button", {type: "button", class: "link fd-down", text: "↓", title: T("Move down"), "aria-label": T("Move down"), onclick: function () { opts.move(index, 1); }}),
      el("button", {type: "button", class: "link fd-remove", text: "✕", title: T("Remove"), "aria-label": T("Remove") + " " + row.name, onclick: function () { opts.remove(index); }})]);
    var renamed = row.was && D.liveFields.indexOf(row.was) >= 0 ? el("small", {class: "hint fd-was"}) : null;
    function showRenamed() { if (renamed) renamed.textContent = name.value.trim() !== row.was ? T("Renamed from {name}", {name: row.was}) : ""; }
    showRenamed();
    name.addEventListener("input", showRenamed);
    box.appendChild(el("div", {class: "fd-main"}, [
      el("label", {class: "fd-cell"}, [el("span", {class: "fd-label", text: T("Name")}), name, renamed]),
      el("label", {class: "fd-cell"}, [el("span", {class: "fd-label", text: T("Type")}), type]),
      el("div", {class: "fd-cell fd-title"}, [el("span", {class: "fd-label", text: T("Title")}), title.el]),
      el("label", {class: "fd-cell fd-flag"}, [required, " ", T("Required")]),
      search ? el("label", {class: "fd-cell fd-flag"}, [search, " ", T("Search")]) : null,
      buttons]));
    box.appendChild(details);

    function get() {
      var out = {type: type.value};
      var tt = title.get();
      if (tt) out.title = tt;
      if (required.checked) out.required = true;
      var opt = optionNode ? optionNode.get() : {};
      Object.keys(opt).forEach(function (k) { out[k] = k === "default" ? coerceDefault(type.value, opt[k]) : opt[k]; });
      if (out["default"] === undefined) delete out["default"];
      if (choices) { var c = choices.get(); if (c) out.choices = c; }
      if (children) { var ch = children.get(); if (Object.keys(ch).length) out.fields = ch; }
      return {_id: row._id, name: name.value.trim(), was: row.was, spec: out, search: search ? search.checked : false};
    }
    return {el: box, get: get, name: name};
  }

  /* ------------------------------------------------------------ a list of fields (top or a table's children) */
  function fieldList(rows, opts) {
    var box = el("div", {class: "fd-list" + (opts.nested ? " fd-nested" : ""), dataset: {path: opts.path}});
    var holder = el("div", {class: "fd-rows"});
    var nodes = [];
    function sync() { rows = nodes.map(function (n) { return n.get(); }); }
    var ctl = {
      nested: opts.nested, path: opts.path,
      move: function (i, d) { sync(); if (E.moveItem(rows, i, d)) { draw(); changed(); } },
      remove: function (i) { sync(); rows.splice(i, 1); draw(); changed(); }
    };
    function draw() {
      holder.innerHTML = "";
      nodes = rows.map(function (r, i) { var n = fieldRow(r, i, rows, ctl); holder.appendChild(n.el); return n; });
    }
    (rows || []).forEach(function (r) { r._id = E.uid("f"); if (!opts.nested) r.search = (model.search || []).indexOf(r.name) >= 0; });
    draw();
    box.appendChild(holder);
    function addField(type) {
      sync();
      var n = rows.length + 1, taken = rows.map(function (r) { return r.name; });
      while (taken.indexOf("field_" + n) >= 0) n++;
      rows.push({_id: E.uid("f"), name: "field_" + n, spec: {type: type || "string"}});
      draw();
      changed();
      var last = nodes[nodes.length - 1];
      if (type === "choice" || type === "table" || type === "link" || type === "multilink") last.el.querySelector("details").open = true;
      last.name.select();
    }
    box.appendChild(el("button", {type: "button", class: opts.nested ? "fd-add-child" : "fd-add-field", id: opts.nested ? null : "add-field",
      text: "+ " + T("Add field"), onclick: function () { addField("string"); }}));
    if (!opts.nested) {
      /* one choice adds a field of that type: the quickest way to a choice or a link field */
      var typed = el("select", {class: "ed-add-typed", id: "add-field-of-type", "aria-label": T("Add a field of type")},
        [el("option", {value: "", text: T("Add a field of type…")})].concat(D.types.map(function (ty) { return el("option", {value: ty, text: (D.typeTitles || {})[ty] || ty}); })));
      typed.addEventListener("change", function () { var ty = typed.value; typed.value = ""; if (ty) addField(ty); });
      box.appendChild(typed);
    }
    return {el: box, get: function () {
      sync();
      if (!opts.nested) return rows;
      var out = {};
      rows.forEach(function (r) { if (r.name) out[r.name] = r.spec; });
      return out;
    }};
  }

  /* ------------------------------------------------------------ the entity card */
  var titleIn, pluralIn, numberIn, titleFieldIn, dictIn, fieldsNode, indexRows;
  function drawEntity() {
    titleIn = E.titleInputs(model.title, {path: "title", label: T("Title"), name: "entity-title"});
    pluralIn = E.titleInputs(model.plural, {path: "plural", label: T("Plural title"), name: "entity-plural"});
    numberIn = el("input", {type: "text", name: "number", value: model.number || "", placeholder: "REQ-{000000}", dataset: {path: "number"}, "aria-label": T("Number pattern")});
    titleFieldIn = el("select", {name: "title_field", dataset: {path: "title_field"}, "aria-label": T("Title field")});
    dictIn = el("input", {type: "checkbox", name: "dictionary", checked: !!model.dictionary});
    entityBox = el("fieldset", {class: "card fd-entity"}, [
      el("legend", {text: T("Entity")}),
      el("div", {class: "fd-grid"}, [
        el("div", {}, [el("span", {class: "fd-label", text: T("Title")}), titleIn.el]),
        el("div", {}, [el("span", {class: "fd-label", text: T("Plural title")}), pluralIn.el]),
        el("label", {}, [el("span", {class: "fd-label", text: T("Number pattern")}), numberIn]),
        el("label", {}, [el("span", {class: "fd-label", text: T("Title field")}), titleFieldIn]),
        el("label", {class: "fd-flag", dataset: {path: "dictionary"}}, [dictIn, " " + T("Dictionary: other entities choose from its records")])])]);
    container.appendChild(entityBox);
  }
  function refreshTitleField(rows, current) {
    titleFieldIn.innerHTML = "";
    titleFieldIn.appendChild(el("option", {value: "", text: "—"}));
    rows.forEach(function (r) { if (r.name) titleFieldIn.appendChild(el("option", {value: r.name, text: r.name})); });
    titleFieldIn.appendChild(el("option", {value: "number", text: T("Record number")}));  // the record's number (REQ-000123) may be its title
    if (current && current !== "number" && !rows.some(function (r) { return r.name === current; })) titleFieldIn.appendChild(el("option", {value: current, text: current + " (?)"}));
    titleFieldIn.value = current;
  }

  function drawIndexes() {
    indexRows = (model.indexes || []).map(function (ix) { return Array.isArray(ix) ? {fields: ix} : Object.assign({}, ix); });
    indexBox = el("fieldset", {class: "card fd-indexes", dataset: {path: "indexes"}}, [el("legend", {text: T("Indexes")})]);
    var holder = el("div");
    var nodes = [];
    function sync() { indexRows = nodes.map(function (n) { return n(); }); }
    function draw() {
      holder.innerHTML = "";
      nodes = indexRows.map(function (ix, i) {
        var f = el("input", {type: "text", value: (ix.fields || []).join(", "), "aria-label": T("Fields (comma-separated)"), placeholder: T("Fields (comma-separated)")});
        var u = el("input", {type: "checkbox", checked: !!ix.unique});
        holder.appendChild(el("div", {class: "fd-index", dataset: {path: "indexes[" + i + "]"}}, [f, el("label", {}, [u, " ", T("Unique")]),
          el("button", {type: "button", class: "link", text: "✕", "aria-label": T("Remove"), onclick: function () { sync(); indexRows.splice(i, 1); draw(); changed(); }})]));
        return function () {
          var fs = f.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
          return u.checked ? {fields: fs, unique: true} : {fields: fs};
        };
      });
    }
    draw();
    indexBox.appendChild(holder);
    indexBox.appendChild(el("button", {type: "button", text: "+ " + T("Add index"), onclick: function () { sync(); indexRows.push({fields: []}); draw(); changed(); }}));
    container.appendChild(indexBox);
    return function () { sync(); return indexRows.filter(function (ix) { return ix.fields.length; }).map(function (ix) { return ix.unique ? ix : ix.fields; }); };
  }

  function changed() { container.dispatchEvent(new Event("change", {bubbles: true})); }

  container.innerHTML = "";
  drawEntity();
  fieldsNode = fieldList((model.fields || []).map(function (f) { return Object.assign({}, f); }), {path: "fields"});
  container.appendChild(el("h2", {text: T("Fields")}));
  container.appendChild(fieldsNode.el);
  var getIndexes = drawIndexes();

  /* the searched fields, in the order the entity lists them (renamed ones keep their place) */
  var searchOrder = (model.search || []).slice();
  function searchList(rows) {
    var byOld = {};
    rows.forEach(function (r) { byOld[r.was || r.name] = r; });
    var out = [];
    searchOrder.forEach(function (name) { var r = byOld[name]; if (r && r.search && r.name && out.indexOf(r.name) < 0) out.push(r.name); });
    rows.forEach(function (r) { if (r.search && r.name && out.indexOf(r.name) < 0) out.push(r.name); });
    return out;
  }
  var names = {};  // row id -> its name at the last sync
  function sync() {
    var rows = fieldsNode.get();
    var titleField = titleFieldIn.value;
    rows.forEach(function (r) {  // the title field follows a field renamed here
      if (names[r._id] && names[r._id] !== r.name && titleField === names[r._id]) titleField = r.name;
      names[r._id] = r.name;
    });
    refreshTitleField(rows, titleField);
    var out = {
      title: titleIn.get(), plural: pluralIn.get(), number: numberIn.value.trim() || undefined,
      title_field: titleFieldIn.value || undefined, dictionary: dictIn.checked || undefined,
      search: searchList(rows),
      indexes: getIndexes(),
      fields: rows.map(function (r) { return {name: r.name, was: r.was || null, spec: r.spec}; })
    };
    if (model.description !== undefined) out.description = model.description;
    E.writeJSON(out);
  }
  refreshTitleField(model.fields || [], model.title_field || "");
  container.addEventListener("input", sync);
  container.addEventListener("change", sync);
  document.getElementById("editor-form").addEventListener("submit", sync);
  sync();
  E.ready();
})();
