// web4p2p console: the live event view over SSE, and a refresh of the
// page's sections when an event says something changed. The pages work
// without this file (reload to refresh); it adds nothing the server does
// not check.
"use strict";
(function () {
  const list = document.getElementById("event-list");
  const status = document.getElementById("events-status");
  if (!list || !window.EventSource || !window.fetch) { return; }
  const maxShown = 200;
  const refreshOn = ["web4.knowledge.", "web4.hcp.", "web4.trust.", "web4.lip.", "web4.mesh.", "web4.cip.handshake_completed", "web4.rtt."];
  let pending = null;

  // refresh fetches the page again and swaps in every section but the
  // event view and any section the human is typing in.
  function refresh() {
    pending = null;
    fetch("/console/", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.redirected || !r.ok) { return null; }
      return r.text();
    }).then(function (html) {
      if (!html) { return; }
      const doc = new DOMParser().parseFromString(html, "text/html");
      document.querySelectorAll("main > section").forEach(function (sec) {
        const a = document.activeElement;
        if (sec.id === "events" || a && a !== document.body && sec.contains(a) && a.value !== undefined && a.value !== "" && a.type === "text") { return; }
        const fresh = doc.getElementById(sec.id);
        if (fresh) { sec.replaceWith(document.importNode(fresh, true)); }
      });
      const hdr = doc.querySelector("header .self"), cur = document.querySelector("header .self");
      if (hdr && cur) { cur.replaceWith(document.importNode(hdr, true)); }
    }).catch(function () { /* the next event retries */ });
  }
  function scheduleRefresh() {
    if (pending === null) { pending = window.setTimeout(refresh, 300); }
  }

  // Resume after the last event the server had when it rendered the page.
  const last = document.body.dataset.lastEvent || "";
  const src = new EventSource("/console/events" + (last ? "?last_id=" + encodeURIComponent(last) : ""));
  src.onopen = function () { status.textContent = "Connected: events appear below as they happen."; };
  src.onerror = function () { status.textContent = "Event stream interrupted; reconnecting…"; };
  src.onmessage = function (ev) {
    let e;
    try { e = JSON.parse(ev.data); } catch (_) { return; }
    const li = document.createElement("li");
    li.className = "event";
    li.textContent = (e.time || "") + "  " + (e.type || "") + "  " + (e.subject || "") +
      (e.data ? "  " + JSON.stringify(e.data) : "");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > maxShown) { list.removeChild(list.lastChild); }
    const t = e.type || "";
    if (refreshOn.some(function (p) { return t.startsWith(p); })) { scheduleRefresh(); }
  };
})();
