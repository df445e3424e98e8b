// Kanban board: drag a card to another column (or, with swimlanes, another lane); the server
// fires the transition or edits the field, or answers the reason, and a refused card goes back
// where it was.
(function () {
  var board = document.getElementById("board");
  if (!board) return;
  var message = document.getElementById("board-message");
  var token = document.querySelector('meta[name="csrf-token"]');
  var dragged = null;

  function count(column, delta) {
    var badge = column.querySelector(".count");
    badge.textContent = String(parseInt(badge.textContent, 10) + delta);
  }
  function totals(column, delta) {  // the column's total in the heads row of a board with lanes
    var head = board.querySelector('.board-head[data-value="' + CSS.escape(column.dataset.value) + '"] .total');
    if (head) head.textContent = String(parseInt(head.textContent, 10) + delta);
  }

  board.addEventListener("dragstart", function (ev) {
    dragged = ev.target.closest(".board-card");
    if (dragged) ev.dataTransfer.setData("text/plain", dragged.dataset.id);
  });
  board.addEventListener("dragover", function (ev) {
    if (dragged && ev.target.closest(".board-column")) ev.preventDefault();
  });
  board.addEventListener("drop", function (ev) {
    var target = ev.target.closest(".board-column");
    var card = dragged;
    dragged = null;
    if (!card || !target) return;
    ev.preventDefault();
    var source = card.closest(".board-column");
    if (source === target) return;
    var across = source.dataset.value !== target.dataset.value;
    var next = card.nextSibling;
    target.querySelector(".board-cards").prepend(card);  // moved at once; put back if refused
    count(source, -1); count(target, 1);
    if (across) { totals(source, -1); totals(target, 1); }
    var body = new FormData();
    body.append("view", board.dataset.view);
    body.append("to", target.dataset.value);
    if (target.dataset.lane !== undefined) body.append("lane", target.dataset.lane);
    body.append("row_version", card.dataset.version);
    if (token) body.append("csrf_token", token.content);
    var url = board.dataset.move.replace("/0/move", "/" + card.dataset.id + "/move");
    fetch(url, {method: "POST", body: body, credentials: "same-origin",
                headers: token ? {"X-CSRFToken": token.content} : {}})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        var ok = res[0], j = res[1];
        if (ok) { card.dataset.version = j.row_version; message.textContent = ""; message.classList.remove("error"); return; }
        source.querySelector(".board-cards").insertBefore(card, next);
        count(source, 1); count(target, -1);
        if (across) { totals(source, 1); totals(target, -1); }
        if (j.dialog) { window.location = j.dialog; return; }
        message.textContent = j.error || "";
        message.classList.add("error");
      });
  });
})();
