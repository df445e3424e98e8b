/* The list views editor: per view its name, titles, default flag, page size, columns (picked
 * from the entity's fields and system columns, reordered), filters (field, operator, value) and
 * the default sort. Posts {views: [...]}. */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA, el = E.el, T = E.T;
  var container = document.getElementById("views-editor");
  if (!container) return;
  var views = ((E.readJSON({views: []}) || {}).views || []).map(function (v) { return JSON.parse(JSON.stringify(v)); });
  var types = {};
  D.fields.forEach(function (f) { types[f.name] = f.type; });
  var candidates = D.systemColumns.concat(D.fields.map(function (f) { return f.name; }));
  var listId = E.datalist("view-columns", candidates);
  var NUMERIC = ["integer", "decimal", "money"];

  function valueText(v) {
    if (v === undefined || v === null) return "";
    if (Array.isArray(v)) return v.join(", ");
    return String(v);
  }
  function parseValue(field, op, text) {
    function one(x) {
      x = x.trim();
      if (NUMERIC.indexOf(types[field]) >= 0 && /^-?\d+(\.\d+)?$/.test(x)) return Number(x);
      if (types[field] === "boolean" && (x === "true" || x === "false")) return x === "true";
      return x;
    }
    if (op === "isnull" || op === "notnull") return text.trim() === "false" ? false : true;
    if (op === "in" || op === "not_in" || op === "between") return text.split(",").filter(function (x) { return x.trim(); }).map(one);
    return text.trim() === "" ? undefined : one(text);
  }

  function buttons(list, i, label) {
    return [
      el("button", {type: "button", class: "link", text: "↑", title: T("Move up"), "aria-label": T("Move up") + " " + label, onclick: function () { if (E.moveItem(list, i, -1)) changed(); }}),
      el("button", {type: "button", class: "link", text: "↓", title: T("Move down"), "aria-label": T("Move down") + " " + label, onclick: function () { if (E.moveItem(list, i, 1)) changed(); }}),
      el("button", {type: "button", class: "link vw-remove", text: "✕", title: T("Remove"), "aria-label": T("Remove") + " " + label, onclick: function () { list.splice(i, 1); changed(); }})];
  }

  function viewCard(v, i) {
    var base = "views[" + i + "]";
    var name = el("input", {type: "text", class: "vw-name", value: v.name || "", "aria-label": T("Name"), name: base + ".name"});
    name.addEventListener("input", function () { v.name = name.value.trim(); sync(); });
    var title = E.titleInputs(v.title, {label: T("Title"), path: base + ".title"});
    [title.ru, title.en].forEach(function (inp) { inp.addEventListener("input", function () { var x = title.get(); if (x) v.title = x; else delete v.title; sync(); }); });
    var def = el("input", {type: "checkbox", class: "vw-default", checked: !!v["default"]});
    def.addEventListener("change", function () { views.forEach(function (o) { delete o["default"]; }); if (def.checked) v["default"] = true; changed(); });
    var size = el("input", {type: "number", class: "vw-page-size", min: 1, max: 500, value: v.page_size || "", "aria-label": T("Page size")});
    size.addEventListener("input", function () { if (size.value) v.page_size = Number(size.value); else delete v.page_size; sync(); });

    // columns
    v.columns = v.columns || [];
    var cols = el("div", {class: "vw-columns", dataset: {path: base + ".columns"}});
    v.columns.forEach(function (c, ci) {
      var known = candidates.indexOf(c.split(".")[0]) >= 0;
      cols.appendChild(el("span", {class: "vw-col" + (known ? "" : " unknown"), dataset: {path: base + ".columns[" + ci + "]", column: c}},
        [el("code", {text: c})].concat(buttons(v.columns, ci, c))));
    });
    var newCol = el("input", {type: "text", class: "vw-new-column", list: listId, placeholder: "subject", "aria-label": T("Add column")});
    var addCol = el("button", {type: "button", class: "vw-add-column", text: "+ " + T("Add column"), onclick: function () {
      var c = newCol.value.trim();
      if (!c) { newCol.focus(); return; }
      if (v.columns.indexOf(c) < 0) v.columns.push(c);
      changed();
    }});
    newCol.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { ev.preventDefault(); addCol.click(); } });

    // filters
    v.filters = v.filters || [];
    var filters = el("div", {class: "vw-filters", dataset: {path: base + ".filters"}});
    v.filters.forEach(function (f, fi) {
      var field = el("input", {type: "text", list: listId, value: f.field || "", class: "vw-filter-field", "aria-label": T("Field")});
      var op = el("select", {class: "vw-filter-op", "aria-label": T("Operator")}, D.ops.map(function (o) { return el("option", {value: o, text: o}); }));
      op.value = f.op || "eq";
      var value = el("input", {type: "text", value: valueText(f.value), class: "vw-filter-value", "aria-label": T("Value"), placeholder: "a, b"});
      function update() {
        f.field = field.value.trim();
        f.op = op.value;
        var parsed = parseValue(f.field, f.op, value.value);
        if (parsed === undefined) delete f.value; else f.value = parsed;
        sync();
      }
      [field, value].forEach(function (x) { x.addEventListener("input", update); });
      op.addEventListener("change", update);
      filters.appendChild(el("div", {class: "vw-filter ed-row", dataset: {path: base + ".filters[" + fi + "]"}}, [field, op, value].concat(buttons(v.filters, fi, f.field || ""))));
    });
    filters.appendChild(el("button", {type: "button", class: "vw-add-filter", text: "+ " + T("Add filter"),
      onclick: function () { v.filters.push({field: "", op: "eq"}); changed(); }}));

    // sort
    v.sort = v.sort || [];
    var sort = el("div", {class: "vw-sort", dataset: {path: base + ".sort"}});
    v.sort.forEach(function (s, si) {
      var desc = s.charAt(0) === "-";
      var field = el("input", {type: "text", list: listId, value: desc ? s.slice(1) : s, class: "vw-sort-field", "aria-label": T("Field")});
      var dir = el("select", {class: "vw-sort-dir", "aria-label": T("Sort")}, [el("option", {value: "", text: T("ascending")}), el("option", {value: "-", text: T("descending")})]);
      dir.value = desc ? "-" : "";
      function update() { v.sort[si] = dir.value + field.value.trim(); sync(); }
      field.addEventListener("input", update);
      dir.addEventListener("change", update);
      sort.appendChild(el("div", {class: "vw-sort-row ed-row", dataset: {path: base + ".sort[" + si + "]"}}, [field, dir].concat(buttons(v.sort, si, s))));
    });
    sort.appendChild(el("button", {type: "button", class: "vw-add-sort", text: "+ " + T("Add sort"),
      onclick: function () { v.sort.push("created_at"); changed(); }}));

    return el("fieldset", {class: "card vw-view", dataset: {path: base, view: v.name || ""}}, [
      el("legend", {}, [T("View") + " " + (i + 1) + " "].concat(buttons(views, i, v.name || ""))),
      el("div", {class: "fd-grid"}, [
        el("label", {}, [el("span", {class: "fd-label", text: T("Name")}), name]),
        el("div", {}, [el("span", {class: "fd-label", text: T("Title")}), title.el]),
        el("label", {class: "fd-flag"}, [def, " " + T("Default view")]),
        el("label", {}, [el("span", {class: "fd-label", text: T("Page size")}), size])]),
      el("h4", {text: T("Columns of the list")}), cols, el("div", {class: "ed-row"}, [newCol, addCol]),
      el("h4", {text: T("Filters")}), filters,
      el("h4", {text: T("Sort")}), sort]);
  }

  function output() {
    return {views: views.map(function (v) {
      var out = {};
      Object.keys(v).forEach(function (k) {
        var x = v[k];
        if (k === "filters") x = x.filter(function (f) { return f.field; });
        if (k === "sort") x = x.filter(function (s) { return s && s !== "-"; });
        if (x === undefined || x === "" || (Array.isArray(x) && !x.length)) return;
        out[k] = x;
      });
      return out;
    })};
  }
  function sync() { E.writeJSON(output()); }
  function draw() {
    container.innerHTML = "";
    views.forEach(function (v, i) { container.appendChild(viewCard(v, i)); });
    container.appendChild(el("button", {type: "button", id: "add-view", text: "+ " + T("Add view"), onclick: function () {
      var n = views.length + 1;
      views.push({name: "view_" + n, columns: ["number"].concat(D.fields.slice(0, 3).map(function (f) { return f.name; }))});
      changed();
    }}));
  }
  function changed() { draw(); sync(); }
  draw();
  sync();
  E.ready();
})();
