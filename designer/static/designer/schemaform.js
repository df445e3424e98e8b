/* A form generated from a JSON Schema (with $refs inlined by the server; recursive refs are
 * {"$recursive": key} resolved from $recursive_defs).
 *
 *   var node = LoomEd.SchemaForm.render(schema, value, {path: "rules", hints: {...}, defs: {...}});
 *   container.appendChild(node.el);  ... node.get()  // the value, undefined when empty
 *
 * Objects show every scalar property (empty = left out) and an "add" button for absent
 * objects, lists and maps; maps (additionalProperties schemas) are rows of key + value; lists of
 * plain strings are one comma-separated input (checkboxes when the hints know the values);
 * {ru, en} titles are two inputs; oneOf offers its alternatives; anything else is JSON text.
 * Keys the schema does not know are kept as they were.
 *
 * Every input is labelled by its property's x-title {ru, en} in the page's language, and
 * x-description {ru, en} is its hint (ADR 0038); a schema without them falls back to the
 * property's name and its plain description.
 */
(function () {
  "use strict";
  var E = window.LoomEd, el = E.el, T = E.T;

  function resolve(s, ctx) {
    var guard = 0;
    while (s && s.$recursive && guard++ < 20) {
      var extra = Object.assign({}, s);
      delete extra.$recursive;
      s = Object.assign({}, (ctx.defs || {})[s.$recursive] || {}, extra);
    }
    return s || {};
  }

  function isTitle(s) {
    var alts = s.oneOf || s.anyOf;
    if (!alts || alts.length !== 2) return false;
    var str = alts.filter(function (a) { return a.type === "string"; }).length;
    var obj = alts.filter(function (a) { return a.type === "object" && a.properties && a.properties.ru && a.properties.en; }).length;
    return str === 1 && obj === 1;
  }

  function typeOf(s) {
    var ty = s.type;
    if (Array.isArray(ty)) {
      if (ty.indexOf("number") >= 0 && ty.indexOf("string") >= 0) return "numstr";
      ty = ty[0];
    }
    return ty;
  }

  // oneOf: [{required: [a]}, {required: [b]}] beside properties only constrains the object
  // ("give a or b"); the form is still the object's, and the server checks the constraint.
  function onlyConstrains(s) {
    var alts = s.oneOf || s.anyOf;
    return !!s.properties && alts.every(function (a) {
      return Object.keys(a).every(function (k) { return k === "required" || k === "not"; });
    });
  }

  function kindOf(s) {
    if (isTitle(s)) return "title";
    if (s.enum) return "enum";
    if (s.const !== undefined) return "const";
    if ((s.oneOf || s.anyOf) && !onlyConstrains(s)) return "oneof";
    var ty = typeOf(s);
    if (ty === "numstr") return "numstr";
    if (ty === "object" || (!ty && (s.properties || s.additionalProperties))) {
      if (s.properties) return "object";
      if (s.additionalProperties && typeof s.additionalProperties === "object") return "map";
      return "any";
    }
    if (ty === "array") return "array";
    if (ty === "string" || ty === "integer" || ty === "number" || ty === "boolean") return ty;
    return "any";
  }

  function isComplex(kind) { return kind === "object" || kind === "map" || kind === "oneof" || kind === "any-complex"; }

  function scalarItems(s, ctx) {
    var items = resolve(s.items || {}, ctx), k = kindOf(items);
    return k === "string" || k === "integer" || k === "number" || k === "enum" || k === "numstr";
  }

  function emptyFor(s, ctx) {
    s = resolve(s, ctx);
    if (s.default !== undefined && typeof s.default !== "object") return s.default;
    var k = kindOf(s);
    if (k === "object" || k === "map") return {};
    if (k === "array") return [];
    if (k === "oneof") return emptyFor((s.oneOf || s.anyOf)[0], ctx);
    return undefined;
  }

  function matches(s, value, ctx) {
    s = resolve(s, ctx);
    var k = kindOf(s);
    if (value === undefined || value === null) return false;
    if (Array.isArray(value)) return k === "array";
    if (typeof value === "object") return k === "object" || k === "map" || k === "title" || k === "any";
    if (typeof value === "string") return k === "string" || k === "title" || k === "numstr" || (k === "enum" && s.enum.indexOf(value) >= 0);
    if (typeof value === "number") return k === "number" || k === "integer" || k === "numstr";
    if (typeof value === "boolean") return k === "boolean";
    return false;
  }

  function humanize(name) { return String(name).replace(/_/g, " "); }
  /* {ru, en} in the page's language (English, then any, when it lacks that one) */
  function inLang(text) {
    if (!text) return "";
    if (typeof text === "string") return text;
    return text[E.DATA.lang] || text.en || text.ru || "";
  }
  /* what a property is called on the form: its x-title, else its name made readable */
  function titleOf(s, name) { return inLang(s && s["x-title"]) || humanize(name || ""); }
  function descOf(s) { return inLang(s && s["x-description"]) || (s && typeof s.description === "string" ? s.description : ""); }

  function label(text, required, s) {
    var node = el("span", {class: "sf-label"}, [text, required ? el("span", {class: "sf-req", text: " *"}) : null]);
    var hint = descOf(s);
    if (hint) node.title = hint;
    return node;
  }

  function render(schema, value, opts) {
    opts = opts || {};
    var ctx = {defs: opts.defs || schema.$recursive_defs || {}, hints: opts.hints || {}};
    return node(schema, value, opts.path || "", opts.name || "", ctx);
  }

  /* `display`: what the input is called (aria-label), by default the schema's own title */
  function node(schema, value, path, name, ctx, display) {
    var s = resolve(schema, ctx);
    ctx = Object.assign({}, ctx, {display: display || titleOf(s, name)});
    switch (kindOf(s)) {
      case "title": return titleNode(s, value, path, name, ctx);
      case "enum": return enumNode(s, value, path, name, ctx);
      case "const": return {el: el("code", {dataset: {path: path}, text: JSON.stringify(s.const)}), get: function () { return s.const; }};
      case "oneof": return oneOfNode(s, value, path, name, ctx);
      case "object": return objectNode(s, value, path, name, ctx);
      case "map": return mapNode(s, value, path, name, ctx);
      case "array": return arrayNode(s, value, path, name, ctx);
      case "boolean": return boolNode(s, value, path, name, ctx);
      case "integer": case "number": return numberNode(s, value, path, name, ctx);
      case "numstr": return textNode(s, value, path, name, ctx, "numstr");
      case "string": return textNode(s, value, path, name, ctx, "string");
      default: return anyNode(s, value, path, name, ctx);
    }
  }

  function titleNode(s, value, path, name, ctx) {
    var ti = E.titleInputs(value, {path: path, label: ctx.display || T("Title")});
    return {el: ti.el, get: ti.get, scalar: true};
  }

  function enumNode(s, value, path, name, ctx) {
    var select = el("select", {dataset: {path: path}, "aria-label": ctx.display, name: path || name},
      [el("option", {value: "", text: s.default !== undefined ? "— (" + s.default + ")" : "—"})].concat(
        s.enum.map(function (v) { return el("option", {value: JSON.stringify(v), text: String(v)}); })));
    if (value !== undefined) select.value = JSON.stringify(value);
    return {el: select, scalar: true, get: function () { return select.value === "" ? undefined : JSON.parse(select.value); }};
  }

  function boolNode(s, value, path, name, ctx) {
    var box = el("input", {type: "checkbox", checked: value === true, "aria-label": ctx.display, name: path || name});
    var wrap = el("label", {class: "sf-check", dataset: {path: path}}, [box, " ", T("yes")]);
    return {el: wrap, scalar: true, get: function () { return box.checked ? true : (value === false ? false : undefined); }};
  }

  function numberNode(s, value, path, name, ctx) {
    var input = el("input", {type: "number", value: value === undefined ? "" : value, dataset: {path: path},
      step: typeOf(s) === "integer" ? "1" : "any", min: s.minimum, max: s.maximum, "aria-label": ctx.display, name: path || name});
    return {el: input, scalar: true, get: function () {
      if (input.value.trim() === "") return undefined;
      var n = Number(input.value);
      return isNaN(n) ? input.value : n;
    }};
  }

  function textNode(s, value, path, name, ctx, mode) {
    var long = /(^|\.)body(\.|$)/.test(path) || name === "body" || (s.maxLength || 0) > 500 ||
      (typeof value === "string" && value.indexOf("\n") >= 0);
    var hintText = descOf(s);
    var attrs = {value: value === undefined || value === null ? "" : String(value), dataset: {path: path},
                 "aria-label": ctx.display, name: path || name, placeholder: hintText && hintText.length < 60 ? hintText : null};
    var hint = ctx.hints[name];
    var free = (E.DATA.freeHints || []).indexOf(name) >= 0;  // suggestions only (time zones): typed, not picked
    if (!long && !free && hint && hint.length && hint.length <= 200 && (attrs.value === "" || hint.indexOf(attrs.value) >= 0)) {
      /* a reference to something the app has: picked from its titles, the code beside */
      var select = el("select", {dataset: {path: path}, "aria-label": ctx.display, name: path || name, class: "sf-picker"},
        [el("option", {value: "", text: "—"})].concat(hint.map(function (v) { return el("option", {value: v, text: E.codeText(v)}); })));
      select.value = attrs.value;
      return {el: select, scalar: true, get: function () { return select.value === "" ? undefined : select.value; }};
    }
    if (!long) {
      attrs.type = "text";
      if (hint) attrs.list = E.datalist(name, hint);
    }
    var input = el(long ? "textarea" : "input", attrs);
    if (long) { input.rows = 5; input.value = attrs.value; }
    return {el: input, scalar: true, get: function () {
      var v = input.value;
      if (v.trim() === "") return undefined;
      if (mode === "numstr" && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v.trim());
      return v;
    }};
  }

  function anyNode(s, value, path, name, ctx) {
    var input = el("input", {type: "text", dataset: {path: path}, "aria-label": ctx.display, name: path || name,
      placeholder: T("(any JSON value)"),
      value: value === undefined ? "" : (typeof value === "string" ? value : JSON.stringify(value))});
    return {el: input, scalar: true, get: function () {
      var v = input.value.trim();
      if (v === "") return undefined;
      try { var parsed = JSON.parse(v); if (typeof parsed !== "string") return parsed; } catch (e) { /* plain text */ }
      return input.value;
    }};
  }

  function oneOfNode(s, value, path, name, ctx) {
    var alts = (s.oneOf || s.anyOf).map(function (a) { return resolve(a, ctx); });
    var index = 0;
    for (var i = 0; i < alts.length; i++) { if (matches(alts[i], value, ctx)) { index = i; break; } }
    var box = el("div", {class: "sf-oneof", dataset: {path: path}});
    var select = el("select", {class: "sf-variant", "aria-label": ctx.display}, alts.map(function (a, i) {
      var k = kindOf(a);
      var text = inLang(a["x-title"]) || a.title || (k === "string" ? T("as text") : k === "array" ? T("list") :
        (k === "map" ? T("per language") : k === "object" ? T("object") : (descOf(a) || k)));
      return el("option", {value: String(i), text: text});
    }));
    select.value = String(index);
    var current = node(alts[index], value, path, name, ctx, ctx.display);
    var holder = el("div", {class: "sf-variant-body"}, [current.el]);
    select.addEventListener("change", function () {
      index = Number(select.value);
      current = node(alts[index], emptyFor(alts[index], ctx), path, name, ctx, ctx.display);
      holder.innerHTML = "";
      holder.appendChild(current.el);
    });
    box.appendChild(select);
    box.appendChild(holder);
    return {el: box, get: function () { return current.get(); }};
  }

  function objectNode(s, value, path, name, ctx) {
    var obj = value && typeof value === "object" && !Array.isArray(value) ? value : {};
    var required = s.required || [];
    var props = s.properties || {};
    var box = el("div", {class: "sf-object", dataset: {path: path}});
    var grid = el("div", {class: "sf-props"});
    var adders = el("div", {class: "sf-adders"});
    var nodes = {};
    box.appendChild(grid);
    box.appendChild(adders);

    function simpleProp(key) {
      var ps = resolve(props[key], ctx), k = kindOf(ps);
      return !isComplex(k) && !(k === "array" && !scalarItems(ps, ctx));
    }
    // name and title first, then the other inputs, then nested objects and lists (schema order within each)
    var order = Object.keys(props).sort(function (a, b) {
      function rank(key) { return key === "name" ? 0 : key === "title" ? 1 : simpleProp(key) ? 2 : 3; }
      return rank(a) - rank(b) || Object.keys(props).indexOf(a) - Object.keys(props).indexOf(b);
    });
    order.forEach(function (key) {
      var ps = resolve(props[key], ctx), k = kindOf(ps), sub = path ? path + "." + key : key;
      var simple = simpleProp(key), title = titleOf(ps, key), hint = descOf(ps);
      var row = el("div", {class: "sf-prop sf-" + k, dataset: {key: key}});
      grid.appendChild(row);
      function show(v) {
        row.innerHTML = "";
        nodes[key] = node(ps, v, sub, key, ctx, title);
        var head = el("div", {class: "sf-prop-head"}, [label(title, required.indexOf(key) >= 0, ps)]);
        if (!simple && required.indexOf(key) < 0) {
          head.appendChild(el("button", {type: "button", class: "link sf-remove", "aria-label": T("remove") + " " + title, text: "✕",
            onclick: function () { delete nodes[key]; row.innerHTML = ""; row.hidden = true; addButton(); changed(box); }}));
        }
        row.hidden = false;
        row.appendChild(head);
        if (hint && simple && key !== "name" && k !== "title") row.appendChild(el("small", {class: "hint", text: hint}));
        row.appendChild(nodes[key].el);
      }
      function addButton() {
        adders.appendChild(el("button", {type: "button", class: "sf-add-prop", dataset: {prop: key},
          text: "+ " + title, title: hint || null,
          onclick: function (ev) { ev.target.remove(); show(emptyFor(ps, ctx)); changed(box); }}));
      }
      if (simple || obj[key] !== undefined || required.indexOf(key) >= 0) show(obj[key] !== undefined ? obj[key] : (simple ? undefined : emptyFor(ps, ctx)));
      else { row.hidden = true; addButton(); }
    });
    return {el: box, get: function () {
      var out = {};
      Object.keys(obj).forEach(function (k) { if (!props[k]) out[k] = obj[k]; });  // keys the schema does not know stay
      var ordered = {};
      Object.keys(props).forEach(function (key) {
        if (!nodes[key]) return;
        var v = nodes[key].get();
        if (v !== undefined) ordered[key] = v;
      });
      // keep the original key order where keys existed, new ones after
      var result = {};
      Object.keys(obj).forEach(function (k) { if (k in ordered) result[k] = ordered[k]; else if (k in out) result[k] = out[k]; });
      Object.keys(ordered).forEach(function (k) { if (!(k in result)) result[k] = ordered[k]; });
      return result;
    }};
  }

  function changed(node) { node.dispatchEvent(new Event("change", {bubbles: true})); }

  function mapNode(s, value, path, name, ctx) {
    var valueSchema = resolve(s.additionalProperties, ctx);
    var entries = Object.keys(value || {}).map(function (k) { return {key: k, value: value[k]}; });
    var box = el("div", {class: "sf-map", dataset: {path: path}});
    var list = el("div", {class: "sf-map-entries"});
    var keyHint = ctx.hints["keys:" + name];
    var rows = [];
    function draw() {
      list.innerHTML = "";
      rows = entries.map(function (entry, i) {
        var keyInput = el("input", {type: "text", class: "sf-key", value: entry.key, "aria-label": T("key"),
          list: keyHint ? E.datalist("keys-" + name, keyHint) : null});
        var sub = node(valueSchema, entry.value, (path ? path + "." : "") + entry.key, entry.key, ctx);
        var complex = kindOf(valueSchema) === "object" || kindOf(valueSchema) === "map";
        var row = el(complex ? "fieldset" : "div", {class: "sf-map-entry" + (complex ? " sf-card" : ""), dataset: {path: (path ? path + "." : "") + entry.key}}, [
          el(complex ? "legend" : "span", {class: "sf-map-key"}, [keyInput,
            el("button", {type: "button", class: "link sf-remove", text: "✕", "aria-label": T("remove") + " " + entry.key,
              onclick: function () { sync(); entries.splice(i, 1); draw(); changed(box); }})]),
          sub.el]);
        list.appendChild(row);
        return {key: keyInput, node: sub};
      });
    }
    function sync() { entries = rows.map(function (r) { return {key: r.key.value.trim(), value: r.node.get()}; }); }
    var newKey = el("input", {type: "text", class: "sf-new-key", placeholder: T("key"), "aria-label": T("key"),
      list: keyHint ? E.datalist("keys-" + name, keyHint) : null});
    var add = el("button", {type: "button", class: "sf-add-entry", text: "+ " + T("Add entry"), onclick: function () {
      var k = newKey.value.trim();
      if (!k) { newKey.focus(); return; }
      sync();
      entries.push({key: k, value: emptyFor(valueSchema, ctx)});
      newKey.value = "";
      draw();
      changed(box);
    }});
    draw();
    box.appendChild(list);
    box.appendChild(el("div", {class: "sf-map-add"}, [newKey, add]));
    return {el: box, get: function () {
      sync();
      var out = {};
      entries.forEach(function (e) { if (e.key) out[e.key] = e.value === undefined ? (kindOf(valueSchema) === "object" ? {} : null) : e.value; });
      return out;
    }};
  }

  function arrayNode(s, value, path, name, ctx) {
    var items = resolve(s.items || {}, ctx);
    var list = Array.isArray(value) ? value.slice() : [];
    if (scalarItems(s, ctx)) {
      var ik = kindOf(items);
      var known = ik === "enum" ? items.enum : ctx.hints[name];
      // checkboxes for a short list of known values (an enum, the app's roles); a long one stays a text input
      if (known && known.length && (ik === "enum" || known.length <= 30)) {
        return checksNode(items, list, known, path, name, ik !== "enum", Array.isArray(value), ctx.display);
      }
      var input = el("input", {type: "text", dataset: {path: path}, "aria-label": ctx.display, name: path || name,
        placeholder: "a, b, c", value: list.join(", ")});
      return {el: input, scalar: true, get: function () {
        var parts = input.value.split(",").map(function (p) { return p.trim(); }).filter(Boolean);
        if (ik === "integer" || ik === "number") parts = parts.map(Number);
        return parts.length ? parts : (Array.isArray(value) ? [] : undefined);
      }};
    }
    var box = el("div", {class: "sf-array", dataset: {path: path}});
    var holder = el("div", {class: "sf-items"});
    var nodes = [];
    function sync() { list = nodes.map(function (n) { return n.get(); }); }
    function draw() {
      holder.innerHTML = "";
      nodes = list.map(function (v, i) {
        var sub = node(items, v, path + "[" + i + "]", name, ctx, ctx.display);
        var summary = v && typeof v === "object" ? (v.name || v.field || v.value || E.titleText(v.title) || "") : "";
        var card = el("fieldset", {class: "sf-card sf-item", dataset: {path: path + "[" + i + "]"}}, [
          el("legend", {}, ["#" + (i + 1) + (summary ? " " + summary : ""), " ",
            el("button", {type: "button", class: "link", text: "↑", title: T("Move up"), "aria-label": T("Move up"),
              onclick: function () { sync(); if (E.moveItem(list, i, -1)) { draw(); changed(box); } }}),
            el("button", {type: "button", class: "link", text: "↓", title: T("Move down"), "aria-label": T("Move down"),
              onclick: function () { sync(); if (E.moveItem(list, i, 1)) { draw(); changed(box); } }}),
            el("button", {type: "button", class: "link sf-remove", text: "✕", title: T("Remove"), "aria-label": T("Remove"),
              onclick: function () { sync(); list.splice(i, 1); draw(); changed(box); }})]),
          sub.el]);
        holder.appendChild(card);
        return sub;
      });
    }
    draw();
    box.appendChild(holder);
    box.appendChild(el("button", {type: "button", class: "sf-add-item", text: "+ " + T("Add") + (ctx.display ? ": " + ctx.display : ""),
      onclick: function () { sync(); list.push(emptyFor(items, ctx)); draw(); changed(box); }}));
    return {el: box, get: function () { sync(); return list.map(function (v) { return v === undefined ? {} : v; }); }};
  }

  /* A list of strings from known values (checkboxes), plus others typed in. */
  function checksNode(items, list, known, path, name, allowOther, present, display) {
    var box = el("div", {class: "sf-checks", dataset: {path: path}});
    var boxes = known.map(function (v) {
      var b = el("input", {type: "checkbox", value: v, checked: list.indexOf(v) >= 0, name: (path || name) + "[]"});
      box.appendChild(el("label", {class: "sf-check"}, [b, " "].concat(E.codeLabel(v))));
      return b;
    });
    var other = null;
    if (allowOther) {
      other = el("input", {type: "text", class: "sf-other", "aria-label": display + " …", placeholder: "…",
        value: list.filter(function (v) { return known.indexOf(v) < 0; }).join(", ")});
      box.appendChild(other);
    }
    return {el: box, scalar: true, get: function () {
      var out = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
      if (other) other.value.split(",").map(function (p) { return p.trim(); }).filter(Boolean).forEach(function (v) {
        if (out.indexOf(v) < 0) out.push(v);
      });
      // keep the original order of values that stay
      var ordered = list.filter(function (v) { return out.indexOf(v) >= 0; });
      out.forEach(function (v) { if (ordered.indexOf(v) < 0) ordered.push(v); });
      return ordered.length ? ordered : (present ? [] : undefined);
    }};
  }

  E.SchemaForm = {render: render, resolve: resolve, kindOf: kindOf};
})();
