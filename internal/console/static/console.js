// Waypost console: the overview's live numbers, polled every 2 seconds
// from /console/overview.json. Pages work without it.
"use strict";
(function () {
  var hubs = document.getElementById("hubs");
  if (!hubs) { return; }
  function set(el, text) { if (el && el.textContent !== String(text)) { el.textContent = text; } }
  function refresh() {
    fetch("/console/overview.json", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (d) {
        ["now", "received_last_hour", "delivered_last_hour", "config_sha256", "config_loaded"].forEach(function (k) {
          set(document.querySelector('[data-live="' + k + '"]'), d[k]);
        });
        d.hubs.forEach(function (h) {
          var row = hubs.querySelector('tr[data-hub="' + CSS.escape(h.name) + '"]');
          if (!row) { return; }
          var st = row.querySelector('[data-field="state"]');
          set(st, h.state);
          st.className = "state state-" + h.state.split(" ")[0];
          set(row.querySelector('[data-field="messages"]'), h.known ? h.messages : "-");
          set(row.querySelector('[data-field="held"]'), h.known ? h.held : "-");
        });
      })
      .catch(function () { /* the next poll tries again */ });
  }
  setInterval(refresh, 2000);
})();
