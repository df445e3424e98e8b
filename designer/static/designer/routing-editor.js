/* The routing editor: routing.yaml as an ordered rule table per entity.
 *
 * The first rule whose condition holds routes the record, so the order is the meaning: rows are
 * dragged by their handle (or moved with the arrows) to reorder. Each row: title, condition,
 * group (picked by title), strategy; any other key of a rule is kept and edited in the form
 * (the row's "more" link). The fallback is the last row. Posts the whole routing.yaml.
 */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA, el = E.el, T = E.T;
  var container = document.getElementById("routing-editor");
  if (!container) return;
  var doc = E.readJSON({}) || {};
  doc.entities = doc.entities || {};
  var dragged = null;

  function changed() { E.writeJSON(doc); }
  function groupSelect(value, label) {
    var s = el("select", {class: "rt-group", "aria-label": label}, [el("option", {value: "", text: "—"})].concat(
      D.groups.map(function (g) { return el("option", {value: g, text: E.codeText(g)}); })));
    if (value && D.groups.indexOf(value) < 0) s.appendChild(el("option", {value: value, text: value}));
    s.value = value || "";
    return s;
  }
  function strategySelect(value, label) {
    var s = el("select", {class: "rt-strategy", "aria-label": label}, [el("option", {value: "", text: "—"})].concat(
      D.strategies.map(function (x) { return el("option", {value: x.name, text: x.title}); })));
    s.value = value || "";
    return s;
  }
  function setOrDrop(obj, key, value) { if (value) obj[key] = value; else delete obj[key]; }

  /* A rule may take its group or person from the record (group_from, user_from) or name a person
     (user): those are shown where the group is, so the analyst sees where the record goes; they
     are edited in the form (the row's "more" link). */
  function targetCell(rule, group) {
    var out = rule.group_from ? [el("span", {class: "rt-from", text: T("from the record: {path}", {path: rule.group_from})})] : [group];
    if (rule.user) out.push(el("small", {class: "rt-user", text: T("person: {user}", {user: rule.user})}));
    if (rule.user_from) out.push(el("small", {class: "rt-user", text: T("person from the record: {path}", {path: rule.user_from})}));
    return out;
  }

  function ruleRow(name, rules, rule, i) {
    var path = "entities." + name + ".rules[" + i + "]";
    var title = el("input", {type: "text", class: "rt-title", value: E.titleText(rule.title, ""), placeholder: rule.name,
                             "aria-label": T("Title")});
    var when = el("input", {type: "text", class: "rt-when", value: rule.when || "", placeholder: "question_type == 'access'",
                            "aria-label": T("Condition")});
    var group = groupSelect(rule.group, T("Group"));
    var strategy = strategySelect(rule.strategy, T("Strategy"));
    title.addEventListener("input", function () {
      var t = typeof rule.title === "object" && rule.title ? Object.assign({}, rule.title) : {};
      t[D.lang] = title.value.trim();
      if (!t[D.lang]) delete t[D.lang];
      setOrDrop(rule, "title", Object.keys(t).length ? t : null);
      changed();
    });
    when.addEventListener("input", function () { setOrDrop(rule, "when", when.value.trim()); changed(); });
    group.addEventListener("change", function () { setOrDrop(rule, "group", group.value); changed(); });
    strategy.addEventListener("change", function () { setOrDrop(rule, "strategy", strategy.value); changed(); });
    function move(to) {
      if (to < 0 || to >= rules.length) return;
      rules.splice(to, 0, rules.splice(i, 1)[0]);
      changed(); draw();
    }
    var row = el("tr", {class: "rt-rule", draggable: "true", dataset: {path: path, index: String(i), entity: name}}, [
      el("td", {class: "rt-handle", title: T("Drag to reorder"), text: "⋮⋮"}),
      el("td", {class: "rt-n", text: String(i + 1)}),
      el("td", {}, [title, el("small", {class: "ed-code", text: rule.name})]),
      el("td", {}, [when]), el("td", {}, targetCell(rule, group)), el("td", {}, [strategy]),
      el("td", {class: "rt-buttons"}, [
        el("button", {type: "button", class: "link", text: "↑", "aria-label": T("Move up"), onclick: function () { move(i - 1); }}),
        el("button", {type: "button", class: "link", text: "↓", "aria-label": T("Move down"), onclick: function () { move(i + 1); }}),
        el("a", {href: D.formUrl + "#" + path, text: T("more"), class: "rt-more"}),
        el("button", {type: "button", class: "link", text: "✕", "aria-label": T("Remove"), onclick: function () { rules.splice(i, 1); changed(); draw(); }})])]);
    row.addEventListener("dragstart", function (ev) { dragged = {entity: name, index: i}; ev.dataTransfer.effectAllowed = "move"; ev.dataTransfer.setData("text/plain", String(i)); });
    row.addEventListener("dragover", function (ev) { if (dragged && dragged.entity === name) { ev.preventDefault(); row.classList.add("rt-over"); } });
    row.addEventListener("dragleave", function () { row.classList.remove("rt-over"); });
    row.addEventListener("drop", function (ev) {
      ev.preventDefault();
      if (!dragged || dragged.entity !== name || dragged.index === i) return;
      rules.splice(i, 0, rules.splice(dragged.index, 1)[0]);
      dragged = null; changed(); draw();
    });
    return row;
  }

  function entityTable(name) {
    var spec = doc.entities[name];
    spec.rules = spec.rules || [];
    var rules = spec.rules;
    var head = el("tr", {}, ["", "#", T("Title"), T("Condition"), T("Group"), T("Strategy"), ""].map(function (h) { return el("th", {text: h}); }));
    var body = el("tbody", {}, rules.map(function (r, i) { return ruleRow(name, rules, r, i); }));
    var fb = spec.fallback = spec.fallback || {};
    var fbGroup = groupSelect(fb.group, T("Otherwise: group"));
    var fbStrategy = strategySelect(fb.strategy, T("Otherwise: strategy"));
    fbGroup.addEventListener("change", function () { setOrDrop(fb, "group", fbGroup.value); changed(); });
    fbStrategy.addEventListener("change", function () { setOrDrop(fb, "strategy", fbStrategy.value); changed(); });
    body.appendChild(el("tr", {class: "rt-fallback", dataset: {path: "entities." + name + ".fallback"}}, [el("td"), el("td", {text: "∗"}),
      el("td", {colspan: 2, text: T("Otherwise (no rule matched)")}), el("td", {}, [fbGroup]), el("td", {}, [fbStrategy]), el("td")]));
    var add = el("button", {type: "button", class: "rt-add", text: "+ " + T("Add rule"), onclick: function () {
      var n = rules.length + 1, names = rules.map(function (r) { return r.name; });
      while (names.indexOf("rule_" + n) >= 0) n++;
      rules.push({name: "rule_" + n});
      changed(); draw();
    }});
    return el("section", {class: "card rt-entity", dataset: {path: "entities." + name}}, [
      el("h3", {}, [(D.entityTitles[name] || name) + " ", el("small", {class: "ed-code", text: name})]),
      el("table", {class: "list rt-rules", id: "rt-" + name}, [el("thead", {}, [head]), body]), add]);
  }

  function draw() {
    container.innerHTML = "";
    Object.keys(doc.entities).forEach(function (name) {
      if (doc.entities[name] && typeof doc.entities[name] === "object") container.appendChild(entityTable(name));
    });
    var missing = Object.keys(D.entityTitles).filter(function (n) { return !doc.entities[n]; });
    if (missing.length) {
      var pick = el("select", {id: "rt-add-entity", "aria-label": T("Route an entity")}, [el("option", {value: "", text: T("Route an entity…")})].concat(
        missing.map(function (n) { return el("option", {value: n, text: D.entityTitles[n] + " · " + n}); })));
      pick.addEventListener("change", function () { if (!pick.value) return; doc.entities[pick.value] = {rules: []}; changed(); draw(); });
      container.appendChild(pick);
    }
  }
  draw();
  document.getElementById("editor-form").addEventListener("submit", function () {
    Object.keys(doc.entities).forEach(function (n) {  // an empty fallback is no fallback
      var spec = doc.entities[n];
      if (spec && spec.fallback && !Object.keys(spec.fallback).length) delete spec.fallback;
    });
    changed();
  });
  Object.keys(doc.entities).forEach(function (n) { var s = doc.entities[n]; if (s && s.fallback && !Object.keys(s.fallback).length) delete s.fallback; });
  changed();
  E.ready();
})();
