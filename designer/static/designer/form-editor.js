/* The form layout editor: sections (title, columns, collapsed, visible_if), optionally inside
 * tabs, filled with the entity's fields by drag and drop (HTML5) — from the palette into a
 * section, between sections, back to the palette to take a field out — or by buttons: choose
 * a section in "Add to" and press + next to a field; ← → ✕ on a placed field. Per-field rules
 * (visible_if, required_if, readonly_if: whatever the schema's form.rules offers) open under
 * each placed field. Posts the entity's `form` object. */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA, el = E.el, T = E.T;
  var container = document.getElementById("form-editor");
  if (!container) return;
  var form = E.readJSON({}) || {};
  var tabs = form.tabs ? form.tabs.map(function (t) { return Object.assign({}, t, {sections: (t.sections || []).map(copySection)}); }) : null;
  var sections = form.sections ? form.sections.map(copySection) : [];
  var rules = {}, ruleOrder = [];
  (form.rules || []).forEach(function (r) { if (r && r.field) { rules[r.field] = Object.assign({}, r); ruleOrder.push(r.field); } });
  var target = 0;     // index (in allSections()) the + buttons add to
  var drag = null;    // {field}
  var fieldByName = {};
  D.fields.forEach(function (f) { fieldByName[f.name] = f; });

  function copySection(s) { return Object.assign({}, s, {fields: (s.fields || []).slice()}); }
  function allSections() {
    if (!tabs) return sections.map(function (s, i) { return {section: s, path: "form.sections[" + i + "]", list: sections, index: i}; });
    var out = [];
    tabs.forEach(function (tab, ti) {
      tab.sections.forEach(function (s, i) { out.push({section: s, path: "form.tabs[" + ti + "].sections[" + i + "]", list: tab.sections, index: i, tab: tab}); });
    });
    return out;
  }
  function placedIn() {
    var where = {};
    allSections().forEach(function (ref, i) { ref.section.fields.forEach(function (f) { where[f] = i; }); });
    return where;
  }
  function takeOut(field) {
    allSections().forEach(function (ref) {
      var i = ref.section.fields.indexOf(field);
      if (i >= 0) ref.section.fields.splice(i, 1);
    });
  }
  function place(field, secIndex, at) {
    var ref = allSections()[secIndex];
    if (!ref) return;
    takeOut(field);
    var list = ref.section.fields;
    list.splice(at === undefined || at > list.length ? list.length : at, 0, field);
    changed();
  }
  function label(name) {
    var f = fieldByName[name];
    return f ? E.titleText(f.title, name) : name;
  }

  /* ------------------------------------------------------------ palette */
  function palette() {
    var where = placedIn();
    var refs = allSections();
    if (target >= refs.length) target = Math.max(0, refs.length - 1);
    var select = el("select", {id: "form-target", "aria-label": T("Add to")}, refs.map(function (ref, i) {
      var tabName = ref.tab ? E.titleText(ref.tab.title, T("Tab")) + " › " : "";
      return el("option", {value: String(i), text: tabName + (E.titleText(ref.section.title) || T("Section") + " " + (i + 1))});
    }));
    select.value = String(target);
    select.addEventListener("change", function () { target = Number(select.value); });
    var list = el("ul", {class: "fm-palette-list"});
    D.fields.forEach(function (f) {
      var placed = where[f.name] !== undefined;
      list.appendChild(el("li", {class: "fm-pal-item" + (placed ? " placed" : ""), draggable: "true", dataset: {field: f.name},
        ondragstart: function (ev) { startDrag(ev, f.name); }}, [
        el("span", {class: "fm-grip", "aria-hidden": "true", text: "⋮⋮"}),
        el("span", {class: "fm-pal-title"}, [label(f.name), " ", el("code", {text: f.name})]),
        el("small", {class: "hint", text: placed ? T("placed") : T("not placed")}),
        el("button", {type: "button", class: "fm-add", text: "+", title: T("Add to"),
          "aria-label": T("Add to") + ": " + f.name, disabled: refs.length ? null : true,
          onclick: function () { place(f.name, target); }})]));
    });
    var box = el("aside", {class: "card fm-palette", dataset: {drop: "palette"}}, [
      el("h3", {text: T("Fields of the entity")}),
      el("label", {class: "fm-target"}, [T("Add to") + " ", select]),
      list]);
    box.addEventListener("dragover", function (ev) { if (drag) ev.preventDefault(); });
    box.addEventListener("drop", function (ev) { ev.preventDefault(); if (drag) { takeOut(drag.field); drag = null; changed(); } });
    return box;
  }

  /* ------------------------------------------------------------ drag and drop */
  function startDrag(ev, field) {
    drag = {field: field};
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", field);
  }
  function dropIndex(zone, ev) {
    var chips = [].slice.call(zone.querySelectorAll(".fm-chip"));
    for (var i = 0; i < chips.length; i++) {
      var r = chips[i].getBoundingClientRect();
      if (ev.clientY < r.top) return i;
      if (ev.clientY <= r.bottom && ev.clientX < r.left + r.width / 2) return i;
    }
    return chips.length;
  }
  function dropZone(secIndex, section, path) {
    var zone = el("div", {class: "fm-drop cols-" + (section.columns || 1), dataset: {sec: String(secIndex)}});
    zone.style.gridTemplateColumns = "repeat(" + (section.columns || 1) + ", minmax(0, 1fr))";
    zone.addEventListener("dragover", function (ev) { if (!drag) return; ev.preventDefault(); ev.dataTransfer.dropEffect = "move"; zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (ev) {
      ev.preventDefault();
      ev.stopPropagation();
      zone.classList.remove("over");
      var field = drag ? drag.field : ev.dataTransfer.getData("text/plain");
      drag = null;
      if (!field) return;
      var at = dropIndex(zone, ev);
      var from = section.fields.indexOf(field);
      if (from >= 0 && from < at) at -= 1;  // it leaves its old place first
      place(field, secIndex, at);
    });
    section.fields.forEach(function (name, i) { zone.appendChild(chip(name, i, section, path + ".fields[" + i + "]")); });
    if (!section.fields.length) zone.appendChild(el("div", {class: "fm-empty hint", text: T("Drop fields here")}));
    return zone;
  }

  function chip(name, i, section, path) {
    var rule = rules[name] || {};
    var hasRule = D.ruleProps.some(function (k) { return rule[k]; });
    var known = !!fieldByName[name];
    var details = el("details", {class: "fm-rules"}, [el("summary", {text: T("Rules") + (hasRule ? " ●" : "")})]);
    D.ruleProps.forEach(function (k) {
      var input = el("input", {type: "text", value: rule[k] || "", class: "fm-rule-" + k, placeholder: "priority == '1'",
                               "aria-label": k + " " + name});
      input.addEventListener("input", function () {
        var r = rules[name] || (rules[name] = {field: name});
        if (ruleOrder.indexOf(name) < 0) ruleOrder.push(name);
        if (input.value.trim()) r[k] = input.value.trim(); else delete r[k];
        sync();
      });
      details.appendChild(el("label", {}, [el("span", {class: "fd-label", text: k.replace(/_/g, " ")}), input]));
    });
    return el("div", {class: "fm-chip" + (known ? "" : " unknown") + (hasRule ? " has-rule" : ""), draggable: "true",
                      dataset: {field: name, path: path}, ondragstart: function (ev) { ev.stopPropagation(); startDrag(ev, name); }}, [
      el("div", {class: "fm-chip-head"}, [
        el("span", {class: "fm-grip", "aria-hidden": "true", text: "⋮⋮"}),
        el("span", {class: "fm-chip-title"}, [label(name), " ", el("code", {text: name})]),
        el("button", {type: "button", class: "link fm-left", text: "←", title: T("Move up"), "aria-label": T("Move up") + " " + name,
          onclick: function () { if (E.moveItem(section.fields, i, -1)) changed(); }}),
        el("button", {type: "button", class: "link fm-right", text: "→", title: T("Move down"), "aria-label": T("Move down") + " " + name,
          onclick: function () { if (E.moveItem(section.fields, i, 1)) changed(); }}),
        el("button", {type: "button", class: "link fm-remove", text: "✕", title: T("Remove"), "aria-label": T("Remove") + " " + name,
          onclick: function () { section.fields.splice(i, 1); changed(); }})]),
      D.ruleProps.length ? details : null]);
  }

  /* ------------------------------------------------------------ sections and tabs */
  function sectionBox(ref, secIndex) {
    var s = ref.section;
    var title = E.titleInputs(s.title, {label: T("Section")});
    [title.ru, title.en].forEach(function (inp) { inp.addEventListener("input", function () { s.title = title.get(); if (!s.title) delete s.title; sync(); }); });
    var cols = el("select", {class: "fm-columns", "aria-label": T("Columns")}, [1, 2, 3, 4].map(function (n) { return el("option", {value: String(n), text: String(n)}); }));
    cols.value = String(s.columns || 1);
    cols.addEventListener("change", function () { if (cols.value === "1") delete s.columns; else s.columns = Number(cols.value); changed(); });
    var collapsed = el("input", {type: "checkbox", checked: !!s.collapsed});
    collapsed.addEventListener("change", function () { if (collapsed.checked) s.collapsed = true; else delete s.collapsed; sync(); });
    var extras = [];
    if (D.sectionProps.indexOf("visible_if") >= 0) {
      var vis = el("input", {type: "text", class: "fm-visible-if", value: s.visible_if || "", placeholder: "kind == 'access'", "aria-label": T("Visible if")});
      vis.addEventListener("input", function () { if (vis.value.trim()) s.visible_if = vis.value.trim(); else delete s.visible_if; sync(); });
      extras.push(el("label", {class: "fm-inline"}, [T("Visible if") + " ", vis]));
    }
    var buttons = el("span", {class: "fm-sec-buttons"}, [
      el("button", {type: "button", class: "link", text: "↑", title: T("Move up"), "aria-label": T("Move up"), onclick: function () { if (E.moveItem(ref.list, ref.index, -1)) changed(); }}),
      el("button", {type: "button", class: "link", text: "↓", title: T("Move down"), "aria-label": T("Move down"), onclick: function () { if (E.moveItem(ref.list, ref.index, 1)) changed(); }}),
      el("button", {type: "button", class: "link fm-remove-section", text: "✕", title: T("Remove"), "aria-label": T("Remove") + " " + T("Section"),
        onclick: function () { ref.list.splice(ref.index, 1); changed(); }})]);
    return el("fieldset", {class: "fm-section", dataset: {path: ref.path, sec: String(secIndex)}}, [
      el("legend", {}, [T("Section") + " " + (secIndex + 1)]),
      el("div", {class: "fm-sec-head"}, [title.el, el("label", {class: "fm-inline"}, [T("Columns") + " ", cols]),
        el("label", {class: "fm-inline"}, [collapsed, " " + T("Collapsed")])].concat(extras, [buttons])),
      dropZone(secIndex, s, ref.path)]);
  }

  function addSectionButton(list) {
    return el("button", {type: "button", class: "fm-add-section", text: "+ " + T("Add section"), onclick: function () {
      list.push({fields: []});
      target = allSections().length - 1;
      changed();
    }});
  }

  function canvas() {
    var box = el("div", {class: "fm-canvas"});
    var useTabs = el("input", {type: "checkbox", id: "use-tabs", checked: !!tabs});
    useTabs.addEventListener("change", function () {
      if (useTabs.checked) { tabs = [{title: {ru: "Основное", en: "Main"}, sections: sections}]; sections = []; }
      else { sections = []; tabs.forEach(function (t) { sections = sections.concat(t.sections); }); tabs = null; }
      changed();
    });
    box.appendChild(el("div", {class: "fm-toolbar"}, [el("label", {}, [useTabs, " " + T("Use tabs")])]));
    var refs = allSections();
    if (tabs) {
      tabs.forEach(function (tab, ti) {
        var title = E.titleInputs(tab.title, {label: T("Tab")});
        [title.ru, title.en].forEach(function (inp) { inp.addEventListener("input", function () { tab.title = title.get(); sync(); }); });
        var tabBox = el("fieldset", {class: "fm-tab", dataset: {path: "form.tabs[" + ti + "]"}}, [
          el("legend", {}, [T("Tab") + " " + (ti + 1)]),
          el("div", {class: "fm-sec-head"}, [title.el,
            el("button", {type: "button", class: "link", text: "↑", "aria-label": T("Move up"), onclick: function () { if (E.moveItem(tabs, ti, -1)) changed(); }}),
            el("button", {type: "button", class: "link", text: "↓", "aria-label": T("Move down"), onclick: function () { if (E.moveItem(tabs, ti, 1)) changed(); }}),
            el("button", {type: "button", class: "link", text: "✕", "aria-label": T("Remove") + " " + T("Tab"), onclick: function () { tabs.splice(ti, 1); changed(); }})])]);
        refs.forEach(function (ref, i) { if (ref.tab === tab) tabBox.appendChild(sectionBox(ref, i)); });
        tabBox.appendChild(addSectionButton(tab.sections));
        box.appendChild(tabBox);
      });
      box.appendChild(el("button", {type: "button", class: "fm-add-tab", text: "+ " + T("Add tab"), onclick: function () {
        tabs.push({title: {ru: "Вкладка " + (tabs.length + 1), en: "Tab " + (tabs.length + 1)}, sections: [{fields: []}]});
        changed();
      }}));
    } else {
      refs.forEach(function (ref, i) { box.appendChild(sectionBox(ref, i)); });
      box.appendChild(addSectionButton(sections));
    }
    return box;
  }

  function output() {
    function clean(s) {
      var out = Object.assign({}, s, {fields: s.fields.slice()});
      if (!out.title) delete out.title;
      return out;
    }
    var out = {};
    if (tabs) out.tabs = tabs.map(function (t) { var o = Object.assign({}, t, {sections: t.sections.map(clean)}); if (!o.title) delete o.title; return o; });
    else if (sections.length) out.sections = sections.map(clean);
    var list = ruleOrder.filter(function (f) { return rules[f] && D.ruleProps.some(function (k) { return rules[f][k]; }); })
      .map(function (f) { return rules[f]; });
    if (list.length) out.rules = list;
    Object.keys(form).forEach(function (k) { if (["tabs", "sections", "rules"].indexOf(k) < 0) out[k] = form[k]; });
    return out;
  }

  function sync() { E.writeJSON(output()); }
  function draw() {
    container.innerHTML = "";
    container.appendChild(el("div", {class: "fm-wrap"}, [palette(), canvas()]));
  }
  function changed() { draw(); sync(); }
  document.addEventListener("dragend", function () { drag = null; });
  E.onHighlight(function (path) {  // a rule's problem: open the rules of that field
    var m = /^form\.rules\[(\d+)\]/.exec(path);
    if (m) {
      var field = output().rules && output().rules[Number(m[1])] && output().rules[Number(m[1])].field;
      var c = field && container.querySelector('.fm-chip[data-field="' + field + '"] details');
      if (c) { c.open = true; c.scrollIntoView({block: "center"}); }
    }
  });
  draw();
  sync();
  E.ready();
})();
