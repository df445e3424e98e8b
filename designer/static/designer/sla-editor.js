/* The SLA editor: sla.yaml shaped like the thing it describes.
 *
 * For one entity and one choice field (its priority): a matrix of priority x target (reaction,
 * resolution) with the duration in each cell; beside it the calendar and the statuses that start,
 * pause and stop each clock; below it the escalation levels as rows; then the business calendars
 * as a week grid with their exceptions. A row of the matrix is the policy whose condition is
 * `<field> == '<value>'` (optionally followed by `and ...`, kept as is); filling a cell of a row
 * without a policy creates one, emptying every cell of a row removes its targets and then the
 * policy. Policies of other shapes are kept untouched and listed with a link to the form.
 * Posts the whole sla.yaml.
 */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA, el = E.el, T = E.T;
  var container = document.getElementById("sla-editor");
  if (!container) return;
  var doc = E.readJSON({}) || {};
  doc.calendars = doc.calendars || {};
  doc.policies = doc.policies || [];
  /* the matrix's columns: the targets its policies name (in the order first met), else reaction and resolution */
  var DEFAULT_TARGETS = [{name: "reaction", title: D.targetTitles.reaction}, {name: "resolution", title: D.targetTitles.resolution}];
  var TARGETS = DEFAULT_TARGETS;
  var DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  /* the entity asked for, else the first with a policy, else the first with a choice field */
  var entityName = D.entity && D.entities[D.entity] ? D.entity :
    (doc.policies.map(function (p) { return p.entity; }).filter(function (n) { return D.entities[n]; })[0] ||
     Object.keys(D.entities).filter(function (n) { return Object.keys(D.entities[n].fields).length; })[0] || Object.keys(D.entities)[0]);
  var fieldName = null;

  function code(text) { return el("small", {class: "ed-code", text: text}); }
  function option(value, title, codeText) {
    return el("option", {value: value, text: codeText && codeText !== title ? title + " · " + codeText : title});
  }
  function changed() { E.writeJSON(clean()); }
  function clean() {
    var out = {};
    Object.keys(doc).forEach(function (k) { out[k] = doc[k]; });
    if (!Object.keys(out.calendars).length) delete out.calendars;
    if (!out.policies.length) delete out.policies;
    return out;
  }
  function ent() { return D.entities[entityName] || {fields: {}, statuses: []}; }
  function choiceFields() { var f = ent().fields; return Object.keys(f); }
  function escape(v) { return String(v).replace(/\\/g, "\\\\").replace(/'/g, "\\'"); }
  function whenOf(value) { return fieldName + " == '" + escape(value) + "'"; }
  /* the policy of the row `value`: entity matches and the condition starts with `<field> == '<value>'` */
  function policyOf(value) {
    var head = whenOf(value);
    return doc.policies.filter(function (p) {
      return p.entity === entityName && typeof p.when === "string" && (p.when === head || p.when.indexOf(head + " and ") === 0);
    })[0];
  }
  function matrixPolicies() {
    return (ent().fields[fieldName] || {choices: []}).choices.map(function (c) { return policyOf(c.value); }).filter(Boolean);
  }
  function template() {  /* the policy whose calendar, statuses and escalations a new row copies */
    return matrixPolicies()[0] || null;
  }
  function targetOf(policy, name) { return (policy.targets || []).filter(function (t) { return t.name === name; })[0]; }
  /* the first target of the matrix named `name`: the one whose statuses the settings show and a new cell copies */
  function targetTemplate(name) {
    return matrixPolicies().map(function (p) { return targetOf(p, name); }).filter(Boolean)[0] || null;
  }
  function columns() {
    var out = [];
    matrixPolicies().forEach(function (p) { (p.targets || []).forEach(function (t) {
      if (!out.some(function (x) { return x.name === t.name; })) out.push({name: t.name, title: E.titleText(t.title, t.name)});
    }); });
    return out.length ? out : DEFAULT_TARGETS;
  }
  function defaults(name) {
    var t = targetTemplate(name);
    if (t) { var copy = JSON.parse(JSON.stringify(t)); delete copy.duration; return copy; }
    var out = {name: name, title: TARGETS.filter(function (x) { return x.name === name; })[0].title, start: ["open"]};
    out.stop = name === "reaction" ? ["in_work", "waiting", "done", "cancelled"] : ["done", "cancelled"];
    if (name === "resolution") out.pause = ["waiting"];
    return out;
  }
  function uniquePolicyName(base) {
    var names = doc.policies.map(function (p) { return p.name; }), n = base, i = 2;
    while (names.indexOf(n) >= 0) { n = base + "_" + i; i++; }
    return n;
  }
  function slug(value) { var s = String(value).toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, ""); return s || "v"; }

  function setDuration(choice, target, text) {
    var policy = policyOf(choice.value);
    text = text.trim();
    if (!policy) {
      if (!text) return;
      var tpl = template();
      policy = {name: uniquePolicyName(slug(entityName + "_" + fieldName + "_" + choice.value)), title: choice.title || choice.value,
                entity: entityName, when: whenOf(choice.value)};
      var cal = tpl ? tpl.calendar : Object.keys(doc.calendars).filter(function (c) { return doc.calendars[c]["default"]; })[0];
      if (cal) policy.calendar = cal;
      policy.targets = [];
      if (tpl && tpl.escalations) policy.escalations = JSON.parse(JSON.stringify(tpl.escalations));
      doc.policies.push(policy);
    }
    var t = targetOf(policy, target);
    if (!text) {
      policy.targets = (policy.targets || []).filter(function (x) { return x.name !== target; });
      if (!policy.targets.length) doc.policies.splice(doc.policies.indexOf(policy), 1);
    } else if (t) {
      t.duration = text;
    } else {
      t = defaults(target);
      t.duration = text;
      policy.targets.push(t);
      policy.targets.sort(function (a, b) { return TARGETS.map(function (x) { return x.name; }).indexOf(a.name) - TARGETS.map(function (x) { return x.name; }).indexOf(b.name); });
    }
    changed();
  }

  /* a setting of the matrix (calendar, statuses of a target) applies to every policy of the matrix */
  function applyAll(fn) { matrixPolicies().forEach(fn); changed(); }

  /* ------------------------------------------------------------ drawing */
  function drawPicker() {
    var entSel = el("select", {id: "sla-entity", "aria-label": T("Entity")}, Object.keys(D.entities).map(function (n) { return option(n, D.entities[n].title, n); }));
    entSel.value = entityName;
    entSel.addEventListener("change", function () { entityName = entSel.value; fieldName = null; draw(); });
    var fields = choiceFields();
    if (!fieldName || fields.indexOf(fieldName) < 0) {
      fieldName = fields.filter(function (f) { return doc.policies.some(function (p) { return p.entity === entityName && typeof p.when === "string" && p.when.indexOf(f + " == ") === 0; }); })[0]
        || (fields.indexOf("priority") >= 0 ? "priority" : fields[0]);
    }
    var fieldSel = el("select", {id: "sla-field", "aria-label": T("Rows by the field")}, fields.map(function (n) { return option(n, ent().fields[n].title, n); }));
    fieldSel.value = fieldName || "";
    fieldSel.addEventListener("change", function () { fieldName = fieldSel.value; draw(); });
    return el("div", {class: "sla-picker ed-row"}, [
      el("label", {}, [el("span", {class: "fd-label", text: T("Entity")}), entSel]),
      el("label", {}, [el("span", {class: "fd-label", text: T("Rows by the field")}), fieldSel])]);
  }

  function drawMatrix() {
    var field = ent().fields[fieldName];
    TARGETS = columns();
    if (!field) return el("p", {class: "hint", id: "sla-no-field", text: T("The entity has no choice field to set targets by (a priority).")});
    var head = el("tr", {}, [el("th", {text: field.title})].concat(TARGETS.map(function (t) { return el("th", {text: t.title}); })));
    var rows = field.choices.map(function (c) {
      var policy = policyOf(c.value);
      var index = policy ? doc.policies.indexOf(policy) : -1;
      return el("tr", {class: "sla-row", dataset: {value: c.value, path: index >= 0 ? "policies[" + index + "]" : ""}},
        [el("th", {scope: "row"}, [c.title, c.title !== c.value ? code(c.value) : null])].concat(TARGETS.map(function (t) {
          var target = policy && targetOf(policy, t.name);
          var ti = target ? policy.targets.indexOf(target) : -1;
          var input = el("input", {type: "text", class: "sla-cell", value: target ? target.duration : "", placeholder: "—",
                                   title: T("for example {examples}", {examples: D.durations.slice(1, 4).join(", ")}), "aria-label": c.title + " · " + t.title,
                                   dataset: {value: c.value, target: t.name}});
          /* typing updates the document; the panels beside are redrawn while typing when the first row
             appears or the last goes (never on leaving the cell: a redraw under a click would eat it) */
          input.addEventListener("input", function () {
            var before = template();
            setDuration(c, t.name, input.value);
            if (template() !== before) drawSide();
          });
          return el("td", {dataset: ti >= 0 ? {path: "policies[" + index + "].targets[" + ti + "].duration"} : {}}, [input]);
        })));
    });
    return el("table", {class: "list sla-matrix", id: "sla-matrix"}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function drawSettings() {
    var tpl = template();
    var box = el("div", {class: "card sla-settings", id: "sla-settings"}, [el("h3", {text: T("For every row")})]);
    if (!tpl) { box.appendChild(el("p", {class: "hint", text: T("Fill a cell of the matrix: the calendar and statuses below then apply to every row.")})); }
    var cal = el("select", {id: "sla-calendar", "aria-label": T("Calendar")}, [el("option", {value: "", text: "—"})].concat(
      Object.keys(doc.calendars).map(function (n) { return option(n, E.titleText(doc.calendars[n].title, n), n); })));
    cal.value = tpl && tpl.calendar || "";
    cal.disabled = !tpl;
    cal.addEventListener("change", function () { applyAll(function (p) { if (cal.value) p.calendar = cal.value; else delete p.calendar; }); });
    box.appendChild(el("label", {class: "wf-row"}, [el("span", {class: "fd-label", text: T("Calendar")}), cal]));
    /* which statuses start, pause and stop each clock: one table, a row per status, a column per clock and role */
    var KINDS = [["start", T("start")], ["pause", T("pause")], ["stop", T("stop")]];
    var targets = TARGETS.map(function (t) { return {t: t, target: tpl ? targetTemplate(t.name) : defaults(t.name)}; })
      .filter(function (x) { return x.target; });
    var values = ent().statuses.map(function (st) { return {value: st.name, title: st.title}; });
    targets.forEach(function (x) { KINDS.forEach(function (k) { (x.target[k[0]] || []).forEach(function (v) {
      if (values.some(function (o) { return o.value === v; })) return;
      var cat = D.categories.filter(function (c) { return c.name === v; })[0];
      values.push({value: v, title: cat ? T("any “{category}”", {category: cat.title}) : v});
    }); }); });
    var head1 = el("tr", {}, [el("th")].concat(targets.map(function (x) { return el("th", {colspan: 3, text: x.t.title}); })));
    var head2 = el("tr", {}, [el("th", {text: T("Status")})].concat([].concat.apply([], targets.map(function () {
      return KINDS.map(function (k) { return el("th", {class: "sla-kind", text: k[1]}); }); }))));
    var rows = values.map(function (o) {
      return el("tr", {}, [el("th", {scope: "row"}, [o.title, o.title !== o.value ? code(o.value) : null])].concat([].concat.apply([], targets.map(function (x) {
        return KINDS.map(function (k) {
          var b = el("input", {type: "checkbox", checked: (x.target[k[0]] || []).indexOf(o.value) >= 0, disabled: !tpl,
                               "aria-label": x.t.title + ": " + k[1] + " " + o.title, dataset: {target: x.t.name, kind: k[0], status: o.value}});
          b.addEventListener("change", function () {
            var list = (x.target[k[0]] || []).filter(function (v) { return v !== o.value; });
            if (b.checked) list.push(o.value);
            applyAll(function (p) { var y = targetOf(p, x.t.name); if (!y) return; if (list.length) y[k[0]] = list.slice(); else delete y[k[0]]; });
          });
          return el("td", {class: "sla-check"}, [b]);
        });
      }))));
    });
    box.appendChild(el("table", {class: "list sla-clocks", id: "sla-clocks"}, [el("thead", {}, [head1, head2]), el("tbody", {}, rows)]));
    return box;
  }

  function drawEscalations() {
    var tpl = template();
    var box = el("div", {class: "card sla-escalations", id: "sla-escalations"}, [el("h3", {text: T("Escalation levels")})]);
    var list = tpl ? tpl.escalations || [] : [];
    var table = el("table", {class: "list"}, [el("thead", {}, [el("tr", {}, [T("Level"), T("Share of the time, percent"), T("Template"), T("Recipients"), T("Copy to"), ""].map(function (h) { return el("th", {text: h}); }))])]);
    var body = el("tbody");
    function commit() { applyAll(function (p) { if (list.length) p.escalations = JSON.parse(JSON.stringify(list)); else delete p.escalations; }); }
    list.forEach(function (esc, i) {
      var level = el("input", {type: "number", min: 1, value: esc.level, class: "sla-esc-level", "aria-label": T("Level")});
      var at = el("input", {type: "number", min: 1, value: esc.at, class: "sla-esc-at", "aria-label": T("Share of the time, percent")});
      var tplSel = el("select", {"aria-label": T("Template")}, [el("option", {value: "", text: "—"})].concat(D.templates.map(function (x) { return option(x.name, x.title, x.name); })));
      if (esc.template && !D.templates.some(function (x) { return x.name === esc.template; })) tplSel.appendChild(option(esc.template, esc.template));
      tplSel.value = esc.template || "";
      var to = el("input", {type: "text", value: (esc.to || []).join(", "), list: E.datalist("sla-recipients", D.recipients), "aria-label": T("Recipients")});
      var cc = el("input", {type: "text", value: (esc.cc || []).join(", "), list: E.datalist("sla-recipients", D.recipients), "aria-label": T("Copy to")});
      function read() {
        esc.level = Number(level.value) || 1; esc.at = Number(at.value) || 100;
        if (tplSel.value) esc.template = tplSel.value; else delete esc.template;
        var a = to.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
        var b = cc.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
        if (a.length) esc.to = a; else delete esc.to;
        if (b.length) esc.cc = b; else delete esc.cc;
        commit();
      }
      [level, at, tplSel, to, cc].forEach(function (x) { x.addEventListener("change", read); });
      body.appendChild(el("tr", {class: "sla-esc", dataset: {path: "escalations[" + i + "]"}}, [el("td", {}, [level]), el("td", {}, [at]), el("td", {}, [tplSel]),
        el("td", {}, [to]), el("td", {}, [cc]),
        el("td", {}, [el("button", {type: "button", class: "link", text: "✕", "aria-label": T("Remove"), onclick: function () { list.splice(i, 1); commit(); draw(); }})])]));
    });
    table.appendChild(body);
    box.appendChild(table);
    box.appendChild(el("button", {type: "button", id: "sla-add-escalation", text: "+ " + T("Add level"), disabled: !tpl, onclick: function () {
      var last = list[list.length - 1];
      list.push({level: last ? last.level + 1 : 1, at: last ? last.at + 10 : 100});
      commit(); draw();
    }}));
    return box;
  }

  function drawOthers() {
    var others = doc.policies.filter(function (p) { return matrixPolicies().indexOf(p) < 0; });
    if (!others.length) return null;
    return el("div", {class: "sla-others hint", id: "sla-others"}, [T("Other policies (their conditions are not one priority): ")].concat(
      others.map(function (p) { return el("a", {href: D.formUrl + "#policies[" + doc.policies.indexOf(p) + "]", text: E.titleText(p.title, p.name) + " "}); })));
  }

  function drawCalendars() {
    var box = el("div", {class: "card sla-calendars", id: "sla-calendars", dataset: {path: "calendars"}}, [el("h3", {text: T("Business calendars")})]);
    Object.keys(doc.calendars).forEach(function (name) {
      var c = doc.calendars[name];
      c.hours = c.hours || {};
      var head = el("tr", {}, [el("th", {text: E.titleText(c.title, name)})].concat(DAYS.map(function (d) { return el("th", {text: D.days[d]}); })));
      var cells = DAYS.map(function (d) {
        var input = el("input", {type: "text", class: "sla-hours", value: (c.hours[d] || []).join(", "), placeholder: T("day off"),
                                 "aria-label": E.titleText(c.title, name) + " · " + D.days[d]});
        input.addEventListener("change", function () {
          var list = input.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
          if (list.length) c.hours[d] = list; else delete c.hours[d];
          changed();
        });
        return el("td", {dataset: {path: "calendars." + name + ".hours." + d}}, [input]);
      });
      var tz = el("input", {type: "text", value: c.timezone || "", list: E.datalist("sla-tz", D.timezones), "aria-label": T("Time zone"), class: "sla-tz"});
      tz.addEventListener("change", function () { c.timezone = tz.value.trim(); changed(); });
      var exceptions = el("div", {class: "sla-exceptions", dataset: {path: "calendars." + name + ".exceptions"}});
      function drawExceptions() {
        exceptions.innerHTML = "";
        (c.exceptions || []).forEach(function (x, i) {
          var date = el("input", {type: "date", value: x.date, "aria-label": T("Date")});
          var hours = el("input", {type: "text", value: (x.hours || []).join(", "), placeholder: T("day off"), "aria-label": T("Hours")});
          function read() { x.date = date.value; x.hours = hours.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean); changed(); }
          date.addEventListener("change", read); hours.addEventListener("change", read);
          exceptions.appendChild(el("span", {class: "sla-exception"}, [date, hours, el("button", {type: "button", class: "link", text: "✕", "aria-label": T("Remove"),
            onclick: function () { c.exceptions.splice(i, 1); if (!c.exceptions.length) delete c.exceptions; changed(); drawExceptions(); }})]));
        });
        exceptions.appendChild(el("button", {type: "button", class: "link", text: "+ " + T("Add exception"), onclick: function () {
          c.exceptions = c.exceptions || []; c.exceptions.push({date: new Date().toISOString().slice(0, 10), hours: []}); changed(); drawExceptions(); }}));
      }
      drawExceptions();
      box.appendChild(el("table", {class: "list sla-week", dataset: {calendar: name}}, [el("thead", {}, [head]), el("tbody", {}, [el("tr", {}, [el("th", {}, [code(name), " ", tz])].concat(cells))])]));
      box.appendChild(el("div", {class: "ed-row"}, [el("span", {class: "fd-label", text: T("Exceptions")}), exceptions]));
    });
    return box;
  }

  var side = null, below = null;
  function drawSide() {
    side.innerHTML = ""; below.innerHTML = "";
    side.appendChild(drawSettings());
    [drawOthers(), drawEscalations()].forEach(function (n) { if (n) below.appendChild(n); });
  }
  function draw() {
    container.innerHTML = "";
    container.appendChild(drawPicker());
    side = el("div", {class: "sla-side"});
    below = el("div", {class: "sla-below"});
    container.appendChild(el("div", {class: "sla-top"}, [el("div", {class: "sla-left"}, [drawMatrix(), below]), side]));
    drawSide();
    container.appendChild(drawCalendars());
  }
  draw();
  document.getElementById("editor-form").addEventListener("submit", changed);
  changed();
  E.ready();
})();
