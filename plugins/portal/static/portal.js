// While a visitor types into a form, show knowledge-base articles matching the words so far.
(function () {
  var form = document.querySelector("form[data-suggest]");
  if (!form) return;
  var box = form.querySelector(".suggestions"), list = box && box.querySelector("ul"), timer = null, last = "";
  var pending = null;  // the search in flight: a late answer would renew the session cookie over the submit's
  var inputs = form.querySelectorAll("input[type=text], textarea");
  function ask() {
    var q = Array.prototype.map.call(inputs, function (i) { return i.value; }).join(" ").trim();
    if (q === last) return;
    last = q;
    if (q.length < 3) { box.hidden = true; return; }
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(form.dataset.suggest + "?q=" + encodeURIComponent(q), {credentials: "same-origin", signal: pending.signal})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) {
        list.textContent = "";
        items.forEach(function (item) {
          var li = document.createElement("li"), a = document.createElement(item.url ? "a" : "span");
          a.textContent = item.title;
          if (item.url) { a.href = item.url; a.target = "_blank"; }
          li.appendChild(a);
          list.appendChild(li);
        });
        box.hidden = items.length === 0;
      })
      .catch(function () {});  // aborted: a newer search or the form was sent
  }
  // the flash message of the answer to the submit lives in that cookie
  form.addEventListener("submit", function () { clearTimeout(timer); if (pending) pending.abort(); });
  Array.prototype.forEach.call(inputs, function (i) {
    i.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 300); });
  });
})();

// A form's link lists: a search box asks for the records matching what the visitor types (when
// there are more than the list holds), and a filtered link's list is asked again when another
// field of the form changes (its filter reads the form's values).
(function () {
  var form = document.querySelector("form.portal-form");
  if (!form) return;
  function values() {
    var params = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.name !== "csrf_token" && el.type !== "file" && el.type !== "search" &&
          (el.type !== "checkbox" || el.checked)) params.append(el.name, el.value);
    });
    return params;
  }
  function refresh(select, url, q) {
    var params = values();
    if (q) params.set("q", q);
    fetch(url + "?" + params.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (found) {
        if (!found) return;
        var chosen = select.value;
        select.length = 1;  // the empty choice stays
        found.items.forEach(function (item) {
          var option = new Option(item.text, item.id, false, item.id === chosen);
          select.add(option);
        });
      })
      .catch(function () {});
  }
  Array.prototype.forEach.call(form.querySelectorAll("input.options-search"), function (box) {
    var select = document.getElementById(box.dataset.for), timer = null;
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { refresh(select, box.dataset.options, box.value.trim()); }, 300);
    });
  });
  form.addEventListener("change", function (event) {
    Array.prototype.forEach.call(form.querySelectorAll("select[data-options]"), function (select) {
      if (select !== event.target) refresh(select, select.dataset.options, "");
    });
  });
})();
