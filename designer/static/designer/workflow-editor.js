/* The workflow editor: statuses and transitions as a diagram (SVG) edited with the mouse.
 *
 * Drag a status to move it (its position goes to status.layout {x, y}); drag from the dot on
 * the right of a status to another status to draw a transition, or press "Connect" and click
 * the source, then the target; double-click the empty canvas to add a status there. Click a
 * status or a transition to edit it in the side panel (name, titles, category, initial; from,
 * to, roles, groups, condition, required fields, timer, scripts, set, actions). Every action
 * also has a button (toolbar, lists under the canvas, panel), for keyboards and tests.
 * "Tidy the layout" lays the whole diagram out with dagre (vendor/dagre): statuses left to right
 * in ranks along the transitions, crossings minimised, each transition's label a box of its own;
 * statuses without a stored layout are placed the same way when the editor opens, and a new
 * status goes to the nearest free space. Posts {statuses, transitions}.
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
  var GAP = 30;             // the free space kept around a status
  var placed = new Map();   // status object -> position, for statuses without a stored layout
  var routes = new Map();   // transition object -> {"from>to": the path dagre drew}, used while its ends stay put
  function where(s) { return s.layout ? {x: s.layout.x, y: s.layout.y} : placed.get(s) || null; }
  function pos(i) { return where(statuses[i]) || {x: 30, y: 30 + i * (H + GAP)}; }
  function spot(p) { return Math.round(p.x) + "," + Math.round(p.y); }

  /* every arrow of the diagram: one per status a transition starts from; a return ($previous) to
     every status the record may have come from */
  function edgeList() {
    var edges = [];
    transitions.forEach(function (tr, ti) {
      froms(tr).forEach(function (f) {
        var targets = tr.to === PREVIOUS ? comesFrom(f) : [tr.to];
        targets.forEach(function (to) {
          var a = indexOf(f), b = indexOf(to);
          if (a < 0 || b < 0) return;
          edges.push({ti: ti, a: a, b: b, from: f, to: to, id: ti + ":" + f + ">" + to,
                      text: (tr.to === PREVIOUS ? "\u21a9 " : "") + E.titleText(tr.title, tr.name)});
        });
      });
    });
    return edges;
  }

  /* the size a label's text takes, measured by a hidden label of the same style */
  var probe = null;
  function measure(text) {
    if (probe) {
      probe.textContent = text;
      try { var b = probe.getBBox(); if (b.width) return {w: b.width, h: b.height}; } catch (e) { /* not drawn yet */ }
    }
    return {w: text.length * 7, h: 15};
  }

  /* A layered layout of the whole diagram by dagre: ranks left to right along the transitions
     (cycles broken), the order within a rank chosen to minimise crossings, and each label a box
     of its own between the ranks, so labels keep clear of each other and of the statuses.
     {nodes: name -> top-left position, routes: like `routes`}, or null without dagre. */
  function dagreLayout() {
    var dagre = window.dagre;
    if (!dagre || !statuses.length) return null;
    var g = new dagre.graphlib.Graph({multigraph: true});
    g.setGraph({rankdir: "LR", nodesep: 30, edgesep: 16, ranksep: 40, marginx: 30, marginy: 30});
    g.setDefaultEdgeLabel(function () { return {}; });
    statuses.forEach(function (s) { g.setNode(s.name, {width: W, height: H}); });
    var edges = edgeList();
    edges.forEach(function (e) {
      var size = measure(e.text);  // rounded up to 16 px: a font drawn a pixel wider later changes nothing
      g.setEdge(e.from, e.to, {width: Math.ceil((size.w + 12) / 16) * 16, height: Math.ceil((size.h + 8) / 8) * 8, labelpos: "c"}, e.id);
    });
    dagre.layout(g);
    var nodes = {};
    statuses.forEach(function (s) {
      var n = g.node(s.name);
      nodes[s.name] = {x: Math.round(n.x - W / 2), y: Math.round(n.y - H / 2)};
    });
    var found = new Map();
    edges.forEach(function (e) {
      var d = g.edge({v: e.from, w: e.to, name: e.id});
      if (!d || !d.points || d.x === undefined) return;
      var tr = transitions[e.ti];
      if (!found.has(tr)) found.set(tr, {});
      found.get(tr)[e.from + ">" + e.to] = {
        points: d.points.map(function (q) { return {x: Math.round(q.x * 10) / 10, y: Math.round(q.y * 10) / 10}; }),
        label: {x: d.x, y: d.y}, text: e.text, at: spot(nodes[e.from]) + "|" + spot(nodes[e.to])};
    });
    return {nodes: nodes, routes: found};
  }
  /* the path dagre drew for an edge, while the edge's label and both its statuses are unchanged */
  function routeOf(e) {
    var r = routes.get(transitions[e.ti]);
    r = r && r[e.from + ">" + e.to];
    return r && r.text === e.text && r.at === spot(pos(e.a)) + "|" + spot(pos(e.b)) ? r : null;
  }

  /* statuses without a stored layout where dagre puts them (moved to free space if a stored one
     is there already); dagre's paths are kept for the edges whose ends are where it put them */
  function placeInitially() {
    placed = new Map();
    var lay = dagreLayout();
    if (lay) routes = lay.routes;
    statuses.forEach(function (s, i) {
      if (s.layout) return;
      var p = lay ? lay.nodes[s.name] : {x: 30 + (i % 4) * 210, y: 30 + Math.floor(i / 4) * 110};
      placed.set(s, isFree(p, occupied(s)) ? p : freeSpot(p, s));
    });
  }

  /* boxes a new status keeps clear of: the statuses (with GAP around), the labels and the lines */
  function occupied(except) {
    var out = [];
    statuses.forEach(function (s) {
      var p = s === except ? null : where(s);
      if (p) out.push({x: p.x - GAP / 2, y: p.y - GAP / 2, w: W + GAP, h: H + GAP});
    });
    if (!edgesLayer) return out;
    edgesLayer.querySelectorAll(".wf-label").forEach(function (label) {
      try { var b = label.getBBox(); if (b.width) out.push({x: b.x - 4, y: b.y - 2, w: b.width + 8, h: b.height + 4}); } catch (e) { /* hidden */ }
    });
    edgesLayer.querySelectorAll(".wf-line").forEach(function (line) {
      var length = 0;
      try { length = line.getTotalLength(); } catch (e) { return; }
      for (var at = 0; at <= length; at += 12) {
        var q = line.getPointAtLength(at);
        out.push({x: q.x - 3, y: q.y - 3, w: 6, h: 6});
      }
    });
    return out;
  }
  function overlap(a, b) { return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; }
  function isFree(p, taken) {
    var box = {x: p.x - GAP / 2, y: p.y - GAP / 2, w: W + GAP, h: H + GAP};
    return p.x >= 10 && p.y >= 10 && !taken.some(function (o) { return overlap(box, o); });
  }
  /* the free spot nearest to `near`: rings of a 20-px grid around it, the closest free cell of
     the first ring that has one */
  function freeSpot(near, except) {
    var taken = occupied(except), step = 20;
    near = {x: Math.round(near.x), y: Math.round(near.y)};
    for (var ring = 0; ring <= 100; ring++) {
      var best = null;
      for (var dx = -ring; dx <= ring; dx++) {
        for (var dy = -ring; dy <= ring; dy++) {
          if (Math.abs(dx) !== ring && Math.abs(dy) !== ring) continue;
          var p = {x: near.x + dx * step, y: near.y + dy * step};
          var d = dx * dx + dy * dy;
          if ((!best || d < best.d) && isFree(p, taken)) best = {p: p, d: d};
        }
      }
      if (best) return best.p;
    }
    return {x: 30, y: height()};
  }
  /* where a new status is wanted: right of the selected status, else below the diagram */
  function newSpot() {
    if (!statuses.length) return {x: 30, y: 30};
    if (selected && selected.kind === "status" && statuses[selected.index]) {
      var p = pos(selected.index);
      return {x: p.x + W + 60, y: p.y};
    }
    var bottom = 0;
    statuses.forEach(function (s, i) { bottom = Math.max(bottom, pos(i).y + H); });
    return {x: 30, y: bottom + GAP};
  }

  /* the far corner of everything drawn: statuses, dagre's paths and labels */
  function extent() {
    var maxX = 0, maxY = 0;
    statuses.forEach(function (s, i) { var p = pos(i); maxX = Math.max(maxX, p.x + W); maxY = Math.max(maxY, p.y + H); });
    edgeList().forEach(function (e) {
      var r = routeOf(e);
      if (!r) return;
      r.points.forEach(function (q) { maxX = Math.max(maxX, q.x); maxY = Math.max(maxY, q.y); });
      var size = measure(e.text);
      maxX = Math.max(maxX, r.label.x + size.w / 2); maxY = Math.max(maxY, r.label.y + size.h / 2 + 8);
    });
    return {x: maxX, y: maxY};
  }
  function width() { return Math.max(720, Math.ceil(extent().x) + 40); }
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
  function height() { return Math.max(440, Math.ceil(extent().y) + 60); }

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
      var hover = svgEl("title");
      hover.textContent = E.titleText(s.title, s.name);
      g.appendChild(hover);
      var title = svgEl("text", {x: W / 2, y: 22, class: "wf-title", "text-anchor": "middle"});
      title.textContent = E.titleText(s.title, s.name);
      g.appendChild(title);
      var name = svgEl("text", {x: W / 2, y: 39, class: "wf-name", "text-anchor": "middle"});
      name.textContent = s.name + (s.category ? " · " + s.category : "");
      g.appendChild(name);
      if (s.initial) g.appendChild(svgEl("circle", {cx: 0, cy: H / 2, r: 6, class: "wf-initial"}));
      g.appendChild(svgEl("circle", {cx: W, cy: H / 2, r: 8, class: "wf-port", "data-port": s.name}));
      nodesLayer.appendChild(g);
      fit(title, W - 18);
      fit(name, W - 18);
    });
  }

  /* a text cut short with an ellipsis where it would run out of its status's box */
  function fit(text, room) {
    var full = text.textContent, n = full.length;
    try {
      while (n > 1 && text.getComputedTextLength() > room) { n -= 1; text.textContent = full.slice(0, n).trim() + "\u2026"; }
    } catch (e) { /* not drawn */ }
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
  /* a smooth path through dagre's points */
  function smooth(points) {
    var d = "M " + points[0].x + " " + points[0].y;
    if (points.length === 2) return d + " L " + points[1].x + " " + points[1].y;
    for (var i = 1; i < points.length - 1; i++) {
      var next = i === points.length - 2 ? points[i + 1] : {x: (points[i].x + points[i + 1].x) / 2, y: (points[i].y + points[i + 1].y) / 2};
      d += " Q " + points[i].x + " " + points[i].y + " " + next.x + " " + next.y;
    }
    return d;
  }
  function drawEdges() {
    edgesLayer.innerHTML = "";
    var pairs = {}, labels = [];
    var edges = edgeList();
    edges.forEach(function (e) {
      e.key = [e.from, e.to].sort().join("\u0000");
      pairs[e.key] = (pairs[e.key] || 0) + 1;
      e.slot = pairs[e.key] - 1;
    });
    edges.forEach(function (e) {
      var tr = transitions[e.ti];
      var pa = pos(e.a), pb = pos(e.b);
      var ca = {x: pa.x + W / 2, y: pa.y + H / 2}, cb = {x: pb.x + W / 2, y: pb.y + H / 2};
      var d, mid, route = routeOf(e);
      if (route && e.a === e.b) {
        /* dagre keeps a box for the label beside the status; the loop goes round it */
        var below = route.label.y > ca.y, edge = below ? pa.y + H : pa.y, far = route.label.y + (below ? 12 : -12);
        d = "M " + (ca.x - 24) + " " + edge + " C " + (ca.x - 48) + " " + far + " " + (ca.x + 48) + " " + far + " " + (ca.x + 24) + " " + edge;
        mid = route.label;
      } else if (route) {
        d = smooth(route.points);
        mid = route.label;
      } else if (e.a === e.b) {
        var top = {x: ca.x, y: pa.y};
        d = "M " + (top.x - 20) + " " + top.y + " C " + (top.x - 40) + " " + (top.y - 60) + " " + (top.x + 40) + " " + (top.y - 60) + " " + (top.x + 20) + " " + top.y;
        mid = {x: top.x, y: top.y - 56};
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
        mid = {x: 0.25 * p1.x + 0.5 * ctrl.x + 0.25 * p2.x, y: 0.25 * p1.y + 0.5 * ctrl.y + 0.25 * p2.y - 9};
      }
      var sel = selected && selected.kind === "transition" && selected.index === e.ti;
      var back = tr.to === PREVIOUS;
      var g = svgEl("g", {class: "wf-edge" + (sel ? " selected" : "") + (tr.timer ? " timer" : "") + (back ? " previous" : "") + (route ? " routed" : ""),
                          "data-transition": e.ti, "data-name": tr.name, "data-path": "transitions[" + e.ti + "]",
                          "data-from": e.from, "data-to": e.to});
      g.appendChild(svgEl("path", {d: d, class: "wf-hit"}));
      g.appendChild(svgEl("path", {d: d, class: "wf-line", "marker-end": "url(#wf-arrow)"}));
      var label = svgEl("text", {x: mid.x, y: mid.y, class: "wf-label", "text-anchor": "middle", "dominant-baseline": "central"});
      label.textContent = e.text;
      g.appendChild(label);
      edgesLayer.appendChild(g);
      labels.push({node: label, fixed: !!route});
    });
    /* dagre's labels first: they hold their places, the others move round them */
    separateLabels(labels.filter(function (l) { return l.fixed; }).concat(labels.filter(function (l) { return !l.fixed; })));
  }
  /* labels whose boxes overlap an earlier label (or a status) move up and down until they are free */
  function separateLabels(labels) {
    var taken = statuses.map(function (s, i) { var p = pos(i); return {x: p.x, y: p.y, w: W, h: H}; });
    labels.forEach(function (l) {
      var label = l.node, box;
      try { box = label.getBBox(); } catch (e) { return; }
      if (!box.width) return;
      var y = Number(label.getAttribute("y")), shift = 0;
      for (var tries = 0; tries < 24; tries++) {
        var b = {x: box.x - 2, y: box.y + shift - 1, w: box.width + 4, h: box.height + 2};
        if (!taken.some(function (o) { return overlap(b, o); })) break;
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
      if (g.moved) { pinAll(); svg.setAttribute("viewBox", "0 0 " + width() + " " + height()); sync(); if (selected && selected.kind === "status" && selected.index === g.index) drawPanel(); }
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
  /* every status where dagre puts it (stored, when the schema has a layout) and its paths drawn */
  function tidy() {
    var lay = dagreLayout();
    if (!lay) return;
    placed = new Map();
    statuses.forEach(function (s) {
      if (D.hasLayout) s.layout = lay.nodes[s.name];
      else placed.set(s, lay.nodes[s.name]);
    });
    routes = lay.routes;
    select(selected);
    changed();
  }
  /* the positions the diagram shows are stored for every status, so a saved draft opens as seen */
  function pinAll() {
    if (D.hasLayout) statuses.forEach(function (s, i) { if (!s.layout) s.layout = pos(i); });
  }
  function addStatus(at) {
    var name = uniqueName("status_" + (statuses.length + 1), statuses.map(function (s) { return s.name; }));
    var s = {name: name, title: {ru: name, en: name}};
    if (!statuses.length) { s.initial = true; s.category = "open"; }
    var want = at || newSpot();
    var p = isFree(want, occupied()) ? want : freeSpot(want);
    p = {x: Math.round(p.x), y: Math.round(p.y)};
    pinAll();
    if (D.hasLayout) s.layout = p; else placed.set(s, p);
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
  probe = svgEl("text", {class: "wf-label", x: -1000, y: -1000, "aria-hidden": "true", visibility: "hidden"});
  svg.appendChild(probe);
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
  placeInitially();
  drawSvg();
  drawPanel();
  drawLists();
  sync();
  E.ready();
})();
