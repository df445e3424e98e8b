/* The views editor: per view its name, titles, kind (list, kanban board, calendar, Gantt chart,
 * map), default flag, page size, columns (picked from the entity's fields and system columns,
 * reordered), filters (field, operator, value) and the default sort; a board, a calendar, a
 * Gantt chart and a map also get their own settings, each field picked by its title from the
 * fields of the type the setting needs, and the fields on their cards. Posts {views: [...]}. */
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
  var KINDS = [["list", T("List")], ["kanban", T("Kanban board")], ["calendar", T("Calendar")],
               ["gantt", T("Gantt chart")], ["map", T("Map")]];
  var DATES = ["date", "datetime"];
  /* each kind's settings that name a field: [key, label, the field types it takes, required] */
  var SETTINGS = {
    kanban: [["group_by", T("Columns by"), ["status", "choice"], true],
             ["swimlanes", T("Swimlanes by"), ["choice", "boolean", "user", "group", "link"], false]],
    calendar: [["start", T("Starts"), DATES, true], ["end", T("Ends"), DATES, false]],
    gantt: [["start", T("Starts"), DATES, true], ["end", T("Ends"), DATES, true],
            ["progress", T("Progress, percent"), ["integer", "decimal"], false],
            ["depends_on", T("Predecessors"), ["link", "multilink"], false]],
    map: [["point", T("Point on a map"), ["geo"], true]]
  };
  var titles = {status: T("Status")};
  D.fields.forEach(function (f) { titles[f.name] = E.titleText(f.title, f.name); });
  function fieldsOf(kinds) {
    var out = kinds.indexOf("status") >= 0 ? ["status"] : [];
    return out.concat(D.fields.filter(function (f) { return kinds.indexOf(f.type) >= 0; }).map(function (f) { return f.name; }));
  }
  function fieldPicker(value, names, required, label, onchange) {
    var options = (required ? [] : [el("option", {value: "", text: T("— none —")})]).concat(names.map(function (n) {
      return el("option", {value: n, text: titles[n] + " · " + n});
    }));
    if (value && names.indexOf(value) < 0) options.push(el("option", {value: value, text: value}));
    var select = el("select", {"aria-label": label}, options);
    select.value = value || "";
    select.addEventListener("change", function () { onchange(select.value); });
    return select;
  }

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

    var kind = v.kind || "list";
    var kindSelect = el("select", {class: "vw-kind", "aria-label": T("Kind of view"), name: base + ".kind"},
      KINDS.map(function (k) { return el("option", {value: k[0], text: k[1]}); }));
    kindSelect.value = kind;
    kindSelect.addEventListener("change", function () { setKind(v, kindSelect.value); changed(); });

    return el("fieldset", {class: "card vw-view", dataset: {path: base, view: v.name || "", kind: kind}}, [
      el("legend", {}, [T("View") + " " + (i + 1) + " "].concat(buttons(views, i, v.name || ""))),
      el("div", {class: "fd-grid"}, [
        el("label", {}, [el("span", {class: "fd-label", text: T("Name")}), name]),
        el("div", {}, [el("span", {class: "fd-label", text: T("Title")}), title.el]),
        el("label", {}, [el("span", {class: "fd-label", text: T("Kind of view")}), kindSelect]),
        el("label", {class: "fd-flag"}, [def, " " + T("Default view")]),
        el("label", {}, [el("span", {class: "fd-label", text: T("Page size")}), size])]),
      kind === "list" ? null : kindSettings(v, kind, base),
      kind === "list" ? el("h4", {text: T("Columns of the list")}) : null,
      kind === "list" ? cols : null, kind === "list" ? el("div", {class: "ed-row"}, [newCol, addCol]) : null,
      el("h4", {text: T("Filters")}), filters,
      el("h4", {text: T("Sort")}), sort]);
  }

  /* a new kind keeps name, title, filters and sort; its settings start from the first fields that fit */
  function setKind(v, kind) {
    KINDS.forEach(function (k) { delete v[k[0]]; });
    if (kind === "list") {
      delete v.kind;
      if (!v.columns || !v.columns.length) v.columns = defaultColumns();
      return;
    }
    v.kind = kind;
    var spec = {};
    SETTINGS[kind].forEach(function (s) {
      var names = fieldsOf(s[2]);
      if (s[3] && names.length) spec[s[0]] = names[s[0] === "end" && names.length > 1 ? 1 : 0];
    });
    spec.card = (v.columns || []).filter(function (c) { return c !== "number" && types[c]; }).slice(0, 3);
    delete v.columns;  // cards show the fields of a board, a calendar, a chart or a map
    v[kind] = spec;
  }

  function kindSettings(v, kind, base) {
    var spec = v[kind] = v[kind] || {};
    var path = base + "." + kind;
    var rows = SETTINGS[kind].map(function (s) {
      var names = fieldsOf(s[2]);
      var picker = fieldPicker(spec[s[0]], names, s[3], s[1], function (value) {
        if (value) spec[s[0]] = value; else delete spec[s[0]];
        sync();
      });
      picker.classList.add("vw-" + kind + "-" + s[0].replace("_", "-"));
      return el("label", {dataset: {path: path + "." + s[0]}}, [el("span", {class: "fd-label", text: s[1]}), picker]);
    });
    if (kind === "calendar") {
      var days = el("input", {type: "number", min: 1, max: 366, value: spec.max_days || "", placeholder: "31",
                              class: "vw-calendar-max-days", "aria-label": T("Longest record, days")});
      days.addEventListener("input", function () { if (days.value) spec.max_days = Number(days.value); else delete spec.max_days; sync(); });
      rows.push(el("label", {dataset: {path: path + ".max_days"}}, [el("span", {class: "fd-label", text: T("Longest record, days")}), days]));
    }
    if (kind === "map") {
      [["tiles", T("Tile address"), "https://tile.example.org/{z}/{x}/{y}.png"], ["attribution", T("Attribution"), "© OpenStreetMap"]].forEach(function (s) {
        var input = el("input", {type: "text", value: spec[s[0]] || "", placeholder: s[2], class: "vw-map-" + s[0], "aria-label": s[1]});
        input.addEventListener("input", function () { if (input.value.trim()) spec[s[0]] = input.value.trim(); else delete spec[s[0]]; sync(); });
        rows.push(el("label", {dataset: {path: path + "." + s[0]}}, [el("span", {class: "fd-label", text: s[1]}), input]));
      });
    }
    spec.card = spec.card || [];
    var card = el("div", {class: "vw-card-fields", dataset: {path: path + ".card"}});
    spec.card.forEach(function (c, ci) {
      card.appendChild(el("span", {class: "vw-col", dataset: {path: path + ".card[" + ci + "]", column: c}},
        E.codeLabel(c).concat(buttons(spec.card, ci, c))));
    });
    var free = D.fields.map(function (f) { return f.name; }).filter(function (n) { return spec.card.indexOf(n) < 0; });
    var add = fieldPicker("", free, false, T("Add a field to the card"), function (value) {
      if (value) { spec.card.push(value); changed(); }
    });
    add.classList.add("vw-add-card-field");
    add.options[0].text = "+ " + T("Add a field to the card");
    return el("div", {class: "vw-kind-settings", dataset: {path: path}}, [
      el("div", {class: "fd-grid"}, rows),
      el("h4", {text: T("Fields on the card")}), card, el("div", {class: "ed-row"}, [add])]);
  }

  function output() {
    return {views: views.map(function (v) {
      var out = {};
      Object.keys(v).forEach(function (k) {
        var x = v[k];
        if (k === "filters") x = x.filter(function (f) { return f.field; });
        if (k === "sort") x = x.filter(function (s) { return s && s !== "-"; });
        if (x && typeof x === "object" && !Array.isArray(x) && SETTINGS[k]) {  // a kind's settings: no empty card list
          x = Object.assign({}, x);
          if (!x.card || !x.card.length) delete x.card;
        }
        if (x === undefined || x === "" || (Array.isArray(x) && !x.length)) return;
        out[k] = x;
      });
      return out;
    })};
  }
  function defaultColumns() { return ["number"].concat(D.fields.slice(0, 3).map(function (f) { return f.name; })); }
  function sync() { E.writeJSON(output()); }
  function draw() {
    container.innerHTML = "";
    views.forEach(function (v, i) { container.appendChild(viewCard(v, i)); });
    container.appendChild(el("button", {type: "button", id: "add-view", text: "+ " + T("Add view"), onclick: function () {
      var n = views.length + 1;
      views.push({name: "view_" + n, columns: defaultColumns()});
      changed();
    }}));
  }
  function changed() { draw(); sync(); }
  draw();
  sync();
  E.ready();
})();
