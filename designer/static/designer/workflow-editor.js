/* The workflow editor: statuses and transitions as a diagram (SVG) edited with the mouse.
 *
 * Drag a status to move it (its position goes to status.layout {x, y}); drag from the dot on
 * the right of a status to another status to draw a transition, or press "Connect" and click
 * the source, then the target; double-click the empty canvas to add a status there. Click a
 * status or a transition to edit it in the side panel (name, titles, category, initial; from,
 * to, roles, groups, condition, required fields, timer, scripts, set, actions). Every action
 * also has a button (toolbar, lists under the canvas, panel), for keyboards and tests.
 * Posts {statuses, transitions}.
 */
(function () {
  "use strict";
  var E = window.LoomEd, D = E.DATA, el = E.el, T = E.T;
  var container = document.getElementById("workflow-editor");
  if (!container) return;
  var NS = "http://www.w3.org/2000/svg";
  var W = 150, H = 50;
  var PREVIOUS = "$previous";  // a transition target: back to the status the record came from
  var model = E.readJSON({statuses: [], transitions: []}) || {};
  var statuses = (model.statuses || []).map(function (s) { return Object.assign({}, s); });
  var transitions = (model.transitions || []).map(function (t) { return Object.assign({}, t); });
  var selected = null;      // {kind: "status"|"transition", index}
  var connectFrom = null;   // status name while in connect mode, after the first click
  var connectMode = false;
  var svg, edgesLayer, nodesLayer, temp, panel, lists, connectButton, hintLine;

  function svgEl(tag, attrs) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, attrs[k]); });
    return node;
  }
  function auto(i) { return {x: 30 + (i % 4) * 210, y: 30 + Math.floor(i / 4) * 110}; }
  var placed = new Map();  // status object -> position, for statuses without a stored layout
  function layered() {
    /* columns by distance from the initial status along transitions, rows within a column */
    var depth = {}, queue = [];
    statuses.forEach(function (s) { if (s.initial) { depth[s.name] = 0; queue.push(s.name); } });
    if (!queue.length && statuses.length) { depth[statuses[0].name] = 0; queue.push(statuses[0].name); }
    while (queue.length) {
      var n = queue.shift();
      transitions.forEach(function (tr) {
        if (froms(tr).indexOf(n) >= 0 && depth[tr.to] === undefined && indexOf(tr.to) >= 0) { depth[tr.to] = depth[n] + 1; queue.push(tr.to); }
      });
    }
    var maxDepth = 0, rows = {};
    Object.keys(depth).forEach(function (k) { maxDepth = Math.max(maxDepth, depth[k]); });
    statuses.forEach(function (s) {
      var d = depth[s.name] === undefined ? maxDepth + 1 : depth[s.name];
      rows[d] = rows[d] || 0;
      if (!s.layout) placed.set(s, {x: 30 + d * 210, y: 30 + rows[d] * 110});
      rows[d] += 1;
    });
  }
  function pos(i) { var s = statuses[i], l = s.layout; return l ? {x: l.x, y: l.y} : (placed.get(s) || auto(i)); }
  function width() {
    var maxX = 0;
    statuses.forEach(function (s, i) { maxX = Math.max(maxX, pos(i).x); });
    return Math.max(720, maxX + W + 40);
  }
  function indexOf(name) { for (var i = 0; i < statuses.length; i++) if (statuses[i].name === name) return i; return -1; }
  function froms(tr) { return Array.isArray(tr.from) ? tr.from : (tr.from ? [tr.from] : []); }
  function point(ev) {
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }
  function uniqueName(base, taken) {
    base = (base || "x").toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "") || "x";
    base = base.slice(0, 36);
    var name = base, n = 2;
    while (taken.indexOf(name) >= 0) name = base + "_" + (n++);
    return name;
  }

  /* ------------------------------------------------------------ drawing */
  function height() {
    var maxY = 0;
    statuses.forEach(function (s, i) { maxY = Math.max(maxY, pos(i).y); });
    return Math.max(440, maxY + H + 90);
  }

  function drawNodes() {
    nodesLayer.innerHTML = "";
    statuses.forEach(function (s, i) {
      var p = pos(i);
      var cls = "wf-node cat-" + (s.category || "none") + (s.initial ? " initial" : "") +
        (selected && selected.kind === "status" && selected.index === i ? " selected" : "") +
        (connectFrom === s.name ? " connecting" : "");
      var g = svgEl("g", {class: cls, transform: "translate(" + p.x + "," + p.y + ")", "data-status": s.name,
                          "data-index": i, "data-path": "statuses[" + i + "]", tabindex: "0", role: "button",
                          "aria-label": T("Status") + " " + s.name});
      var rect = svgEl("rect", {width: W, height: H, rx: 10, ry: 10, class: "wf-box"});
      if (s.color) rect.setAttribute("style", "stroke:" + s.color);
      g.appendChild(rect);
      var title = svgEl("text", {x: W / 2, y: 22, class: "wf-title", "text-anchor": "middle"});
      title.textContent = E.titleText(s.title, s.name).slice(0, 22);
      g.appendChild(title);
      var name = svgEl("text", {x: W / 2, y: 39, class: "wf-name", "text-anchor": "middle"});
      name.textContent = s.name + (s.category ? " · " + s.category : "");
      g.appendChild(name);
      if (s.initial) g.appendChild(svgEl("circle", {cx: 0, cy: H / 2, r: 6, class: "wf-initial"}));
      g.appendChild(svgEl("circle", {cx: W, cy: H / 2, r: 8, class: "wf-port", "data-port": s.name}));
      nodesLayer.appendChild(g);
    });
  }

  function clip(c, toward) {
    var dx = toward.x - c.x, dy = toward.y - c.y;
    if (!dx && !dy) return {x: c.x, y: c.y};
    var s = Math.min(dx ? (W / 2 + 4) / Math.abs(dx) : Infinity, dy ? (H / 2 + 4) / Math.abs(dy) : Infinity);
    return {x: c.x + dx * s, y: c.y + dy * s};
  }

  /* the statuses a record in `name` may have come from: where the other transitions into it start */
  function comesFrom(name) {
    var out = [];
    transitions.forEach(function (tr) {
      if (tr.to !== name) return;
      var f = froms(tr).indexOf("*") >= 0 ? statuses.map(function (s) { return s.name; }) : froms(tr);
      f.forEach(function (x) { if (x !== name && out.indexOf(x) < 0) out.push(x); });
    });
    return out;
  }
  function drawEdges() {
    edgesLayer.innerHTML = "";
    var pairs = {}, labels = [];
    var edges = [];
    transitions.forEach(function (tr, ti) {
      froms(tr).forEach(function (f) {
        /* a return ($previous) is drawn, dashed, to every status the record may have come from */
        var targets = tr.to === PREVIOUS ? comesFrom(f) : [tr.to];
        targets.forEach(function (to) {
          var a = indexOf(f), b = indexOf(to);
          if (a < 0 || b < 0) return;
          var key = [f, to].sort().join("\u0000");
          pairs[key] = (pairs[key] || 0) + 1;
          edges.push({ti: ti, a: a, b: b, from: f, to: to, key: key, slot: pairs[key] - 1});
        });
      });
    });
    edges.forEach(function (e) {
      var tr = transitions[e.ti];
      var pa = pos(e.a), pb = pos(e.b);
      var ca = {x: pa.x + W / 2, y: pa.y + H / 2}, cb = {x: pb.x + W / 2, y: pb.y + H / 2};
      var d, mid;
      if (e.a === e.b) {
        var top = {x: ca.x, y: pa.y};
        d = "M " + (top.x - 20) + " " + top.y + " C " + (top.x - 40) + " " + (top.y - 60) + " " + (top.x + 40) + " " + (top.y - 60) + " " + (top.x + 20) + " " + top.y;
        mid = {x: top.x, y: top.y - 48};
      } else {
        var n = pairs[e.key];
        var first = e.key.split("\u0000")[0];
        var sign = first === e.from ? 1 : -1;  // one orientation for the pair, so slots do not overlap
        var offset = (e.slot - (n - 1) / 2) * 44 * sign;
        if (n === 1) offset = 0;
        var dx = cb.x - ca.x, dy = cb.y - ca.y, len = Math.sqrt(dx * dx + dy * dy) || 1;
        var px = -dy / len, py = dx / len;
        var m = {x: (ca.x + cb.x) / 2, y: (ca.y + cb.y) / 2};
        var ctrl = {x: m.x + px * offset * 2, y: m.y + py * offset * 2};
        var p1 = clip(ca, offset ? ctrl : cb), p2 = clip(cb, offset ? ctrl : ca);
        d = "M " + p1.x + " " + p1.y + " Q " + ctrl.x + " " + ctrl.y + " " + p2.x + " " + p2.y;
        mid = {x: 0.25 * p1.x + 0.5 * ctrl.x + 0.25 * p2.x, y: 0.25 * p1.y + 0.5 * ctrl.y + 0.25 * p2.y};
      }
      var sel = selected && selected.kind === "transition" && selected.index === e.ti;
      var back = tr.to === PREVIOUS;
      var g = svgEl("g", {class: "wf-edge" + (sel ? " selected" : "") + (tr.timer ? " timer" : "") + (back ? " previous" : ""),
                          "data-transition": e.ti, "data-name": tr.name, "data-path": "transitions[" + e.ti + "]",
                          "data-from": e.from, "data-to": e.to});
      g.appendChild(svgEl("path", {d: d, class: "wf-hit"}));
      g.appendChild(svgEl("path", {d: d, class: "wf-line", "marker-end": "url(#wf-arrow)"}));
      var label = svgEl("text", {x: mid.x, y: mid.y - 4, class: "wf-label", "text-anchor": "middle"});
      label.textContent = (back ? "\u21a9 " : "") + E.titleText(tr.title, tr.name);
      g.appendChild(label);
      edgesLayer.appendChild(g);
      labels.push(label);
    });
    separateLabels(labels);
  }
  /* labels whose boxes overlap an earlier label (or a status) move down until they are free */
  function separateLabels(labels) {
    var taken = statuses.map(function (s, i) { var p = pos(i); return {x: p.x, y: p.y, w: W, h: H}; });
    labels.forEach(function (label) {
      var box;
      try { box = label.getBBox(); } catch (e) { return; }
      if (!box.width) return;
      var y = Number(label.getAttribute("y")), shift = 0;
      for (var tries = 0; tries < 12; tries++) {
        var b = {x: box.x - 2, y: box.y + shift - 1, w: box.width + 4, h: box.height + 2};
        if (!taken.some(function (o) { return b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h; })) break;
        shift += (tries % 2 ? -1 : 1) * (tries + 1) * 9;  // 9 down, 18 up, 27 down ... around the curve's middle
      }
      label.setAttribute("y", y + shift);
      taken.push({x: box.x - 2, y: box.y + shift - 1, w: box.width + 4, h: box.height + 2});
    });
  }

  function drawSvg() {
    svg.setAttribute("viewBox", "0 0 " + width() + " " + height());
    drawEdges();
    drawNodes();
  }

  /* ------------------------------------------------------------ mouse */
  var gesture = null;
  function onDown(ev) {
    if (ev.button !== 0) return;
    var port = ev.target.closest(".wf-port");
    var node = ev.target.closest(".wf-node");
    var edge = ev.target.closest(".wf-edge");
    var p = point(ev);
    if (port && !connectMode) {
      ev.preventDefault();
      var i = indexOf(port.dataset.port);
      var start = {x: pos(i).x + W, y: pos(i).y + H / 2};
      gesture = {kind: "link", from: port.dataset.port, start: start};
      temp.setAttribute("x1", start.x); temp.setAttribute("y1", start.y);
      temp.setAttribute("x2", p.x); temp.setAttribute("y2", p.y);
      temp.style.display = "";
      svg.setPointerCapture && svg.setPointerCapture(ev.pointerId);
    } else if (node) {
      ev.preventDefault();
      var index = Number(node.dataset.index);
      var at = pos(index);
      gesture = {kind: "move", index: index, node: node, dx: p.x - at.x, dy: p.y - at.y, x0: p.x, y0: p.y, moved: false};
      svg.setPointerCapture && svg.setPointerCapture(ev.pointerId);
    } else if (edge) {
      select({kind: "transition", index: Number(edge.dataset.transition)});
    } else {
      gesture = {kind: "background"};
    }
  }
  function onMove(ev) {
    if (!gesture) return;
    var p = point(ev);
    if (gesture.kind === "link") {
      temp.setAttribute("x2", p.x); temp.setAttribute("y2", p.y);
    } else if (gesture.kind === "move") {
      if (!gesture.moved && Math.abs(p.x - gesture.x0) + Math.abs(p.y - gesture.y0) < 4) return;
      gesture.moved = true;
      var x = Math.max(0, Math.round(p.x - gesture.dx)), y = Math.max(0, Math.round(p.y - gesture.dy));
      statuses[gesture.index].layout = {x: x, y: y};
      gesture.node.setAttribute("transform", "translate(" + x + "," + y + ")");
      drawEdges();
    }
  }
  function onUp(ev) {
    if (!gesture) return;
    var g = gesture;
    gesture = null;
    if (svg.releasePointerCapture && svg.hasPointerCapture && svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
    if (g.kind === "link") {
      temp.style.display = "none";
      var hit = document.elementFromPoint(ev.clientX, ev.clientY);
      var node = hit && hit.closest && hit.closest(".wf-node");
      if (node && node.dataset.status !== g.from) addTransition(g.from, node.dataset.status);
    } else if (g.kind === "move") {
      if (g.moved) { svg.setAttribute("viewBox", "0 0 " + width() + " " + height()); sync(); if (selected && selected.kind === "status" && selected.index === g.index) drawPanel(); }
      else clickStatus(g.index);
    } else if (g.kind === "background") {
      if (connectMode) { connectFrom = null; drawSvg(); } else select(null);
    }
  }
  function clickStatus(i) {
    if (connectMode) {
      var name = statuses[i].name;
      if (!connectFrom) { connectFrom = name; hintLine.textContent = T("Click the source status, then the target status.") + " → " + name; drawSvg(); return; }
      if (connectFrom !== name) addTransition(connectFrom, name);
      connectFrom = null;
      setConnect(false);
      return;
    }
    select({kind: "status", index: i});
  }
  function setConnect(on) {
    connectMode = on;
    connectFrom = null;
    connectButton.classList.toggle("primary", on);
    connectButton.setAttribute("aria-pressed", on ? "true" : "false");
    hintLine.textContent = on ? T("Click the source status, then the target status.") : "";
    drawSvg();
  }

  /* ------------------------------------------------------------ edits */
  /* the first spot on the grid, row by row, whose box keeps clear of every status */
  function freeSpot() {
    var boxes = statuses.map(function (s, i) { return pos(i); });
    for (var r = 0; r < 50; r++) {
      for (var c = 0; c < 5; c++) {
        var p = {x: 30 + c * 210, y: 30 + r * 110};
        if (!boxes.some(function (b) { return Math.abs(b.x - p.x) < W + 30 && Math.abs(b.y - p.y) < H + 30; })) return p;
      }
    }
    return auto(statuses.length);
  }
  /* every status on a layered layout: columns by distance from the initial status */
  function tidy() {
    statuses.forEach(function (s) { delete s.layout; });
    placed = new Map();
    layered();
    if (D.hasLayout) statuses.forEach(function (s, i) { var p = pos(i); s.layout = {x: p.x, y: p.y}; });
    select(selected);
    changed();
  }
  function addStatus(at) {
    var name = uniqueName("status_" + (statuses.length + 1), statuses.map(function (s) { return s.name; }));
    var s = {name: name, title: {ru: name, en: name}};
    if (!statuses.length) { s.initial = true; s.category = "open"; }
    var p = at || freeSpot();
    if (D.hasLayout) s.layout = {x: Math.round(p.x), y: Math.round(p.y)};
    statuses.push(s);
    select({kind: "status", index: statuses.length - 1});
    changed();
    var input = panel.querySelector(".wf-status-name");
    if (input) input.select();
  }
  function addTransition(from, to) {
    if (from === undefined) {
      if (!statuses.length) return;
      from = selected && selected.kind === "status" ? statuses[selected.index].name : statuses[0].name;
      to = (statuses[indexOf(from) + 1] || statuses[0]).name;
    }
    var name = uniqueName(from + "_to_" + to, transitions.map(function (t) { return t.name; }));
    transitions.push({name: name, from: from, to: to});
    select({kind: "transition", index: transitions.length - 1});
    changed();
  }
  function renameStatus(old, name) {
    transitions.forEach(function (tr) {
      if (Array.isArray(tr.from)) tr.from = tr.from.map(function (f) { return f === old ? name : f; });
      else if (tr.from === old) tr.from = name;
      if (tr.to === old) tr.to = name;
    });
  }
  function deleteStatus(i) {
    var name = statuses[i].name;
    statuses.splice(i, 1);
    transitions = transitions.filter(function (tr) {
      if (tr.to === name) return false;
      var f = froms(tr).filter(function (x) { return x !== name; });
      if (!f.length) return false;
      tr.from = f.length === 1 ? f[0] : f;
      return true;
    });
    select(null);
    changed();
  }
  function select(sel) {
    selected = sel;
    drawSvg();
    drawPanel();
    drawLists();
  }

  /* ------------------------------------------------------------ the side panel */
  function row(label, input, path) {
    return el("label", {class: "wf-row", dataset: path ? {path: path} : {}}, [el("span", {class: "fd-label", text: label}), input]);
  }
  function text(obj, key, path, attrs) {
    var input = el("input", Object.assign({type: "text", value: obj[key] === undefined ? "" : obj[key], name: path}, attrs || {}));
    input.addEventListener("input", function () { if (input.value.trim()) obj[key] = input.value.trim(); else delete obj[key]; changed(); });
    return input;
  }
  function checks(values, chosen, onChange, cls) {
    var box = el("div", {class: "sf-checks " + (cls || "")});
    var all = values.slice();
    chosen.forEach(function (v) { if (all.indexOf(v) < 0) all.push(v); });
    all.forEach(function (v) {
      var b = el("input", {type: "checkbox", value: v, checked: chosen.indexOf(v) >= 0});
      b.addEventListener("change", function () {
        onChange([].slice.call(box.querySelectorAll("input:checked")).map(function (x) { return x.value; }));
      });
      box.appendChild(el("label", {class: "sf-check"}, [b, " "].concat(E.codeLabel(v))));
    });
    return box;
  }

  function statusPanel(i) {
    var s = statuses[i], base = "statuses[" + i + "]";
    var name = el("input", {type: "text", class: "wf-status-name", value: s.name, name: base + ".name"});
    name.addEventListener("input", function () {
      var v = name.value.trim();
      if (!v || v === s.name || indexOf(v) >= 0) return;  // a name another status has: wait for the next key
      renameStatus(s.name, v);
      var untouched = s.title && typeof s.title === "object" && s.title.ru === s.name && s.title.en === s.name;
      s.name = v;
      if (untouched) { s.title = {ru: v, en: v}; title.ru.value = v; title.en.value = v; }  // a new status's title follows its name until typed
      changed();
    });
    var title = E.titleInputs(s.title, {label: T("Title"), path: base + ".title"});
    [title.ru, title.en].forEach(function (inp) { inp.addEventListener("input", function () { var v = title.get(); if (v) s.title = v; else delete s.title; changed(); }); });
    var cat = el("select", {name: base + ".category"}, [el("option", {value: "", text: "—"})].concat(D.categories.map(function (c) { return el("option", {value: c, text: c}); })));
    cat.value = s.category || "";
    cat.addEventListener("change", function () { if (cat.value) s.category = cat.value; else delete s.category; changed(); });
    var initial = el("input", {type: "checkbox", checked: !!s.initial, name: base + ".initial"});
    initial.addEventListener("change", function () {
      statuses.forEach(function (o) { delete o.initial; });
      if (initial.checked) s.initial = true;
      changed();
    });
    var color = text(s, "color", base + ".color", {placeholder: "#2f5fd0"});
    var out = [el("h3", {text: T("Status") + " " + s.name}),
      row(T("Name"), name, base + ".name"),
      el("div", {class: "wf-row"}, [el("span", {class: "fd-label", text: T("Title")}), title.el]),
      row(T("Category"), cat, base + ".category"),
      el("label", {class: "wf-row wf-flag", dataset: {path: base + ".initial"}}, [initial, " " + T("Initial status")]),
      row(T("Color"), color, base + ".color")];
    if (D.hasLayout) {
      var p = pos(i);
      var xs = el("input", {type: "number", value: p.x, "aria-label": "x", class: "wf-x"});
      var ys = el("input", {type: "number", value: p.y, "aria-label": "y", class: "wf-y"});
      [xs, ys].forEach(function (inp) { inp.addEventListener("input", function () {
        s.layout = {x: Number(xs.value) || 0, y: Number(ys.value) || 0}; changed();
      }); });
      out.push(el("div", {class: "wf-row wf-xy", dataset: {path: base + ".layout"}}, [el("span", {class: "fd-label", text: T("Position")}), xs, ys]));
    }
    var targets = el("select", {class: "wf-new-target", "aria-label": T("To status")}, statuses.map(function (o) { return el("option", {value: o.name, text: E.titleText(o.title, o.name) + " · " + o.name}); }));
    out.push(el("div", {class: "wf-row"}, [el("span", {class: "fd-label", text: T("Add transition")}),
      el("div", {class: "ed-row"}, [targets, el("button", {type: "button", class: "wf-add-from-here", text: "+ " + T("Add transition"),
        onclick: function () { addTransition(s.name, targets.value); }})])]));
    var sources = el("select", {class: "wf-from-here", id: "wf-transition-from", "aria-label": T("Transition here from")},
      [el("option", {value: "", text: T("— choose a status —")})].concat(statuses.filter(function (o) { return o !== s; }).map(function (o) {
        return el("option", {value: o.name, text: E.titleText(o.title, o.name) + (E.titleText(o.title, o.name) !== o.name ? " · " + o.name : "")}); })));
    sources.addEventListener("change", function () {
      if (!sources.value) return;
      var from = sources.value;
      addTransition(from, s.name);
      var tr = transitions[transitions.length - 1];
      if (s.title) tr.title = Object.assign({}, typeof s.title === "string" ? {ru: s.title} : s.title);  // the button says where it leads
      select({kind: "status", index: indexOf(s.name)});
      changed();
    });
    out.push(el("div", {class: "wf-row"}, [el("span", {class: "fd-label", text: T("Transition here from")}), sources]));
    out.push(el("button", {type: "button", class: "wf-delete dz-danger", id: "delete-status", text: T("Delete"), onclick: function () { deleteStatus(i); }}));
    return out;
  }

  function transitionPanel(i) {
    var tr = transitions[i], base = "transitions[" + i + "]";
    var hints = D.hints || {};
    var names = statuses.map(function (s) { return s.name; });
    var name = text(tr, "name", base + ".name", {class: "wf-tr-name"});
    var title = E.titleInputs(tr.title, {label: T("Title"), path: base + ".title"});
    [title.ru, title.en].forEach(function (inp) { inp.addEventListener("input", function () { var v = title.get(); if (v) tr.title = v; else delete tr.title; changed(); }); });
    var from = checks(names, froms(tr), function (list) { tr.from = list.length === 1 ? list[0] : list; changed(); }, "wf-from");
    var targets = names.concat([PREVIOUS]);
    var to = el("select", {class: "wf-to", name: base + ".to"}, targets.concat(targets.indexOf(tr.to) < 0 && tr.to ? [tr.to] : []).map(function (n) {
      return el("option", {value: n, text: n === PREVIOUS ? "\u21a9 " + T("previous status") : E.codeText(n)});
    }));
    to.value = tr.to;
    to.addEventListener("change", function () { tr.to = to.value; changed(); });
    var roles = checks(hints.roles || [], tr.roles || [], function (list) { if (list.length) tr.roles = list; else delete tr.roles; changed(); }, "wf-roles");
    var groups = el("input", {type: "text", value: (tr.groups || []).join(", "), placeholder: "line1, line2", list: E.datalist("groups", hints.groups)});
    groups.addEventListener("input", function () {
      var list = groups.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
      if (list.length) tr.groups = list; else delete tr.groups;
      changed();
    });
    var condition = text(tr, "condition", base + ".condition", {placeholder: "priority == '1'"});
    var required = checks(D.fields.map(function (f) { return f.name; }), tr.required || [], function (list) { if (list.length) tr.required = list; else delete tr.required; changed(); }, "wf-required");
    var timer = tr.timer ? Object.assign({}, tr.timer) : {};
    var after = el("input", {type: "text", class: "wf-timer-after", value: timer.after || "", placeholder: "5 business days", name: base + ".timer.after"});
    var calendar = el("select", {class: "wf-timer-calendar"}, [el("option", {value: "", text: "—"})].concat((hints.calendar || []).map(function (c) { return el("option", {value: c, text: c}); })));
    if (timer.calendar && (hints.calendar || []).indexOf(timer.calendar) < 0) calendar.appendChild(el("option", {value: timer.calendar, text: timer.calendar}));
    calendar.value = timer.calendar || "";
    function setTimer() {
      var t = Object.assign({}, tr.timer || {});
      if (after.value.trim()) t.after = after.value.trim(); else delete t.after;
      if (calendar.value) t.calendar = calendar.value; else delete t.calendar;
      if (t.after || t.calendar) tr.timer = t; else delete tr.timer;
      changed();
    }
    after.addEventListener("input", setTimer);
    calendar.addEventListener("change", setTimer);
    var refs = E.datalist("script-refs", hints.script || []);
    var before = text(tr, "before", base + ".before", {list: refs, placeholder: "file.py:function"});
    var afterScript = text(tr, "after", base + ".after", {list: refs, placeholder: "file.py:function"});
    var privileged = el("input", {type: "checkbox", class: "wf-privileged", name: base + ".privileged"});
    privileged.checked = !!tr.privileged;
    privileged.addEventListener("change", function () { if (privileged.checked) tr.privileged = true; else delete tr.privileged; changed(); });
    var setNode = E.SchemaForm.render(D.setSchema, tr.set, {path: base + ".set", name: "set", hints: hints});
    setNode.el.addEventListener("input", function () { apply(tr, "set", setNode.get()); });
    setNode.el.addEventListener("change", function () { apply(tr, "set", setNode.get()); });
    var actions = E.SchemaForm.render(D.actionsSchema, tr.actions, {path: base + ".actions", name: "actions", hints: hints});
    actions.el.addEventListener("input", function () { apply(tr, "actions", actions.get()); });
    actions.el.addEventListener("change", function () { apply(tr, "actions", actions.get()); });
    return [el("h3", {text: T("Transition") + " " + tr.name}),
      row(T("Name"), name, base + ".name"),
      el("div", {class: "wf-row"}, [el("span", {class: "fd-label", text: T("Title")}), title.el]),
      el("div", {class: "wf-row", dataset: {path: base + ".from"}}, [el("span", {class: "fd-label", text: T("From status")}), from]),
      row(T("To status"), to, base + ".to"),
      el("div", {class: "wf-row", dataset: {path: base + ".roles"}}, [el("span", {class: "fd-label", text: T("Roles")}), roles]),
      row(T("Groups"), groups, base + ".groups"),
      row(T("Condition"), condition, base + ".condition"),
      el("div", {class: "wf-row", dataset: {path: base + ".required"}}, [el("span", {class: "fd-label", text: T("Required fields")}), required]),
      el("div", {class: "wf-row", dataset: {path: base + ".timer"}}, [el("span", {class: "fd-label", text: T("Timer: after")}), after,
        el("span", {class: "fd-label", text: T("Calendar")}), calendar]),
      row(T("Script before"), before, base + ".before"),
      row(T("Script after"), afterScript, base + ".after"),
      row(T("Runs with system rights"), privileged, base + ".privileged"),
      el("details", {class: "wf-row", open: tr.set ? true : null, dataset: {path: base + ".set"}}, [el("summary", {text: T("Set fields")}), setNode.el]),
      el("details", {class: "wf-row", open: tr.actions ? true : null, dataset: {path: base + ".actions"}}, [el("summary", {text: T("Actions")}), actions.el]),
      el("button", {type: "button", class: "wf-delete dz-danger", id: "delete-transition", text: T("Delete"),
        onclick: function () { transitions.splice(i, 1); select(null); changed(); }})];
  }
  function apply(obj, key, value) {
    if (value === undefined || (Array.isArray(value) && !value.length) || (value && typeof value === "object" && !Object.keys(value).length)) delete obj[key];
    else obj[key] = value;
    changed();
  }

  function drawPanel() {
    panel.innerHTML = "";
    var content;
    if (selected && selected.kind === "status" && statuses[selected.index]) content = statusPanel(selected.index);
    else if (selected && selected.kind === "transition" && transitions[selected.index]) content = transitionPanel(selected.index);
    else content = [el("p", {class: "hint", text: T("Select a status or a transition to edit it, drag statuses to move them, drag from the dot on the right of a status to another status to draw a transition.")})];
    content.forEach(function (c) { panel.appendChild(c); });
  }

  function drawLists() {
    lists.innerHTML = "";
    lists.appendChild(el("div", {class: "wf-list"}, [el("strong", {text: T("Status") + ": "})].concat(statuses.map(function (s, i) {
      return el("button", {type: "button", class: "link wf-pick-status", dataset: {status: s.name}, text: s.name,
                           onclick: function () { select({kind: "status", index: i}); }});
    }))));
    lists.appendChild(el("div", {class: "wf-list"}, [el("strong", {text: T("Transition") + ": "})].concat(transitions.map(function (tr, i) {
      return el("button", {type: "button", class: "link wf-pick-transition", dataset: {transition: tr.name},
                           text: tr.name + " (" + froms(tr).join(", ") + " → " + tr.to + ")",
                           onclick: function () { select({kind: "transition", index: i}); }});
    }))));
  }

  /* ------------------------------------------------------------ sync */
  function output() {
    return {statuses: statuses, transitions: transitions.map(function (tr) {
      var out = Object.assign({}, tr);
      if (Array.isArray(out.from) && out.from.length === 1) out.from = out.from[0];
      return out;
    })};
  }
  function sync() { E.writeJSON(output()); }
  function changed() { drawSvg(); drawLists(); sync(); }

  /* ------------------------------------------------------------ build */
  container.innerHTML = "";
  svg = svgEl("svg", {class: "wf-svg", id: "wf-svg", width: "100%", role: "application", "aria-label": T("Status") + " / " + T("Transition")});
  var defs = svgEl("defs");
  var marker = svgEl("marker", {id: "wf-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse"});
  marker.appendChild(svgEl("path", {d: "M 0 0 L 10 5 L 0 10 z", class: "wf-arrowhead"}));
  defs.appendChild(marker);
  svg.appendChild(defs);
  svg.appendChild(svgEl("rect", {x: 0, y: 0, width: "100%", height: "100%", class: "wf-bg"}));
  edgesLayer = svgEl("g", {class: "wf-edges"});
  nodesLayer = svgEl("g", {class: "wf-nodes"});
  temp = svgEl("line", {class: "wf-temp", "marker-end": "url(#wf-arrow)"});
  temp.style.display = "none";
  svg.appendChild(edgesLayer);
  svg.appendChild(nodesLayer);
  svg.appendChild(temp);
  svg.addEventListener("pointerdown", onDown);
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", onUp);
  svg.addEventListener("dblclick", function (ev) {
    if (ev.target.closest(".wf-node") || ev.target.closest(".wf-edge")) return;
    var p = point(ev);
    addStatus({x: Math.max(0, p.x - W / 2), y: Math.max(0, p.y - H / 2)});
  });
  svg.addEventListener("keydown", function (ev) {
    var node = ev.target.closest && ev.target.closest(".wf-node");
    if (node && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); clickStatus(Number(node.dataset.index)); }
  });
  connectButton = el("button", {type: "button", id: "wf-connect", "aria-pressed": "false", text: T("Connect"), onclick: function () { setConnect(!connectMode); }});
  hintLine = el("span", {class: "hint wf-hint", role: "status"});
  panel = el("aside", {class: "card wf-panel", id: "wf-panel", "aria-live": "polite"});
  lists = el("div", {class: "wf-lists"});
  container.appendChild(el("div", {class: "wf-wrap"}, [
    el("div", {class: "wf-main"}, [
      el("div", {class: "wf-toolbar"}, [
        el("button", {type: "button", id: "wf-add-status", text: "+ " + T("Add status"), onclick: function () { addStatus(); }}),
        el("button", {type: "button", id: "wf-add-transition", text: "+ " + T("Add transition"), onclick: function () { addTransition(); }}),
        el("button", {type: "button", id: "wf-tidy", text: T("Tidy the layout"), onclick: tidy}),
        connectButton, hintLine]),
      el("div", {class: "wf-canvas card"}, [svg]),
      lists]),
    panel]));
  E.onHighlight(function (path) {
    var m = /^(statuses|transitions)\[(\d+)\]/.exec(path);
    if (m) select({kind: m[1] === "statuses" ? "status" : "transition", index: Number(m[2])});
  });
  layered();
  drawSvg();
  drawPanel();
  drawLists();
  sync();
  E.ready();
})();
