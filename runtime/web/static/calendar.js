// Calendar: drag an entry to another day; the server moves its start (and end) by as many days,
// or answers the reason, and a refused entry goes back to its day.
(function () {
  var cal = document.getElementById("calendar");
  if (!cal || cal.dataset.editable !== "true") return;
  var message = document.getElementById("calendar-message");
  var token = document.querySelector('meta[name="csrf-token"]');
  var dragged = null;

  function days(from, to) {
    return Math.round((Date.parse(to + "T00:00:00Z") - Date.parse(from + "T00:00:00Z")) / 86400000);
  }
  cal.addEventListener("dragstart", function (ev) {
    dragged = ev.target.closest(".cal-entry");
    if (dragged) ev.dataTransfer.setData("text/plain", dragged.dataset.id);
  });
  cal.addEventListener("dragover", function (ev) {
    if (dragged && ev.target.closest(".cal-day")) ev.preventDefault();
  });
  cal.addEventListener("drop", function (ev) {
    var target = ev.target.closest(".cal-day");
    var entry = dragged;
    dragged = null;
    if (!entry || !target) return;
    ev.preventDefault();
    var source = entry.closest(".cal-day");
    var shift = days(source.dataset.date, target.dataset.date);
    if (!shift) return;
    var next = entry.nextSibling;
    target.appendChild(entry);  // moved at once; put back if refused
    var body = new FormData();
    body.append("days", String(shift));
    body.append("row_version", entry.dataset.version);
    if (token) body.append("csrf_token", token.content);
    var url = cal.dataset.move.replace("/0/reschedule/", "/" + entry.dataset.id + "/reschedule/");
    fetch(url, {method: "POST", body: body, credentials: "same-origin",
                headers: token ? {"X-CSRFToken": token.content} : {}})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        var ok = res[0], j = res[1];
        if (ok) {
          entry.dataset.version = j.row_version;
          entry.dataset.start = target.dataset.date;
          message.textContent = "";
          message.classList.remove("error");
          // the other days of a long entry move too: simplest is to draw the window again
          if (cal.querySelector('.cal-entry.continues[data-id="' + entry.dataset.id + '"]')) window.location.reload();
          return;
        }
        source.insertBefore(entry, next);
        message.textContent = j.error || "";
        message.classList.add("error");
      });
  });
})();
