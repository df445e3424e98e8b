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
