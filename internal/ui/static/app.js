// vigil's page behaviour: live updates, moving cards (drag, buttons and
// the reason dialog) and the triage queue's selection. The pages work
// without it: every action is also a plain form or link.
(function () {
  "use strict";
  const body = document.body;
  const csrf = body.dataset.csrf || "";

  // htmx requests carry the session's CSRF token.
  document.addEventListener("htmx:configRequest", (e) => { e.detail.headers["X-CSRF-Token"] = csrf; });
  document.addEventListener("htmx:responseError", (e) => {
    toast(e.detail.xhr.responseText || "The request failed.", true);
  });

  let toastTimer;
  function toast(msg, bad) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg;
    t.classList.toggle("bad", !!bad);
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 7000 : 3500);
  }

  function request(method, url, form) {
    return fetch(url, {
      method, body: form, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" },
    });
  }

  const board = () => document.getElementById("board");
  const filterQuery = () => (board() ? board().dataset.filter || "" : "");

  // count writes a count with thousands separators, as the server's
  // "count" template func does (12,345).
  const count = (n) => Number(n).toLocaleString("en-US");

  function updateCounts(res) {
    const h = res.headers.get("X-Board-Counts");
    if (!h) return;
    let total = 0;
    for (const [state, n] of Object.entries(JSON.parse(h))) {
      const el = document.querySelector(`[data-count="${CSS.escape(state)}"]`);
      if (el) { el.textContent = count(n); el.setAttribute("aria-label", count(n) + " items"); }
      total += n;
    }
    const t = document.querySelector(".total");
    if (t && board()) t.textContent = count(total) + " items";
  }

  // ---- Sorted columns (issue 10, the board's sort=): goesBefore says
  // whether card belongs above other in a column sorted by sort, as the
  // server's ORDER BY does (boardOrder in internal/store/board.go). A card
  // placed live has just changed, so it is the latest activity.
  const sevRank = (c) => ["critical", "high", "medium", "low", "informational"]
    .findIndex((s) => c.classList.contains("sev-" + s));
  function goesBefore(card, other, sort) {
    const id = Number(card.dataset.id), oid = Number(other.dataset.id);
    switch (sort) {
      case "oldest": return oid > id;
      case "activity": return true;
      case "severity": {
        const a = sevRank(card), b = sevRank(other);
        return a !== b ? a < b : oid < id;
      }
    }
    return oid < id;
  }
  // ---- end of sorted columns.

  // placeCard puts a card rendered by the server in its column, in the
  // board's order (newest first unless sorted), replacing the old one.
  function placeCard(html, flash) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    const card = tpl.content.firstElementChild;
    if (!card) return;
    const old = document.getElementById(card.id);
    const list = document.querySelector(`.cards[data-state="${CSS.escape(card.dataset.state)}"]`);
    if (old) old.remove();
    if (!list) return;
    const sort = new URLSearchParams(filterQuery()).get("sort") || "";
    const before = Array.from(list.children).find((c) => goesBefore(card, c, sort));
    list.insertBefore(card, before || null);
    if (flash) card.classList.add("flash-in");
    if (window.htmx) htmx.process(card);
  }

  // move asks the server to move item id to state to. A move that needs
  // a reason opens the reason dialog first.
  async function move(id, to, reason, rev) {
    const card = document.getElementById("card-" + id);
    const needsReason = card ? (card.dataset.reasonTo || "").split(" ").includes(to) : false;
    if (reason === undefined && needsReason) {
      openMoveDialog(id, to);
      return false;
    }
    const f = new FormData();
    f.set("to", to);
    f.set("reason", reason || "");
    f.set("rev", rev || (card ? card.dataset.rev : ""));
    f.set("filter", filterQuery());
    const res = await request("POST", `/items/${id}/move`, f);
    const text = await res.text();
    if (!res.ok) {
      toast(text ? `#${id} was not moved: ${text}` : `Could not move #${id} to ${to}.`, true);
      if (res.status === 409) refreshCard(id);
      return false;
    }
    updateCounts(res);
    if (board()) placeCard(text, true);
    toast(`Moved #${id} to ${to}.`);
    const main = document.getElementById("item-main");
    if (main && window.htmx) htmx.ajax("GET", `/items/${id}`, { target: "#item-main", swap: "outerHTML" });
    return true;
  }
  window.vigil = { move };

  async function refreshCard(id) {
    if (!board()) return;
    const q = filterQuery();
    const res = await request("GET", `/board/cards/${id}${q ? "?" + q : ""}`);
    if (res.status === 204) {
      const old = document.getElementById("card-" + id);
      if (old) old.remove();
      updateCounts(res);
      return;
    }
    if (!res.ok) return;
    updateCounts(res);
    placeCard(await res.text(), true);
  }

  // The reason dialog.
  const dialog = document.getElementById("dialog");
  async function openMoveDialog(id, to, back) {
    const res = await request("GET", `/items/${id}/move?to=${encodeURIComponent(to)}` + (back ? "&back=" + encodeURIComponent(back) : ""));
    const text = await res.text();
    if (!res.ok) { toast(text, true); return; }
    document.getElementById("dialog-body").innerHTML = text;
    dialog.showModal();
    const ta = dialog.querySelector("textarea");
    if (ta) ta.focus();
  }
  if (dialog) {
    dialog.addEventListener("click", (e) => {
      const preset = e.target.closest("[data-preset]");
      if (preset) {
        const ta = dialog.querySelector("textarea");
        ta.value = preset.dataset.preset + ta.value.replace(/^[^:]*:\s*/, "");
        ta.focus();
        return;
      }
      if (e.target.closest(".cancel")) { e.preventDefault(); dialog.close(); }
      if (e.target === dialog) dialog.close();
    });
    dialog.addEventListener("submit", async (e) => {
      const form = e.target.closest(".move-form");
      if (!form) return;
      e.preventDefault();
      const data = new FormData(form);
      if (await move(form.dataset.id, form.dataset.to, data.get("reason"), data.get("rev"))) dialog.close();
    });
  }

  // Move buttons and links on cards and on the item page.
  document.addEventListener("click", (e) => {
    const el = e.target.closest(".moves .move");
    if (!el) return;
    const holder = el.closest("[data-id]");
    if (!holder) return;
    e.preventDefault();
    const id = holder.dataset.id;
    if (el.dataset.reason === "true") {
      openMoveDialog(id, el.dataset.to, el.closest("#item-main") ? `/items/${id}` : "");
    } else {
      move(id, el.dataset.to, "", holder.dataset.rev || (document.getElementById("item-main") || {}).dataset?.rev);
    }
  });

  // Drag and drop. The card moves to the column the pointer is released
  // over, or nowhere. Sortable never puts the card in another list while
  // it is dragged: when it did, a card carried across an allowed column
  // (New over Approved on its way to Active) stayed in that column when
  // released over one that refused it, and was moved there for real.
  // The drop target is read from where the pointer is at release, and the
  // server decides: a move the process does not allow comes back as a 409
  // naming the allowed moves, shown while the card stays where it was.
  let pointer = null;
  function trackPointer(e) {
    const p = e.touches && e.touches[0] ? e.touches[0] : e;
    if (typeof p.clientX === "number") pointer = { x: p.clientX, y: p.clientY };
    const b = board();
    if (b && b.classList.contains("dragging")) markDropTarget(b);
  }
  document.addEventListener("pointermove", trackPointer, { passive: true, capture: true });
  document.addEventListener("touchmove", trackPointer, { passive: true, capture: true });

  // columnAt returns the board column under the pointer, if any. A
  // column counts down to the board's bottom edge: a short column is
  // still the one a card dropped below its last card is meant for.
  function columnAt(b) {
    if (!pointer) return null;
    const br = b.getBoundingClientRect();
    if (pointer.y < br.top || pointer.y > br.bottom) return null;
    return Array.from(b.querySelectorAll(".column")).find((c) => {
      const r = c.getBoundingClientRect();
      return pointer.x >= r.left && pointer.x <= r.right && pointer.y >= r.top;
    }) || null;
  }
  function markDropTarget(b) {
    const over = columnAt(b);
    b.querySelectorAll(".column").forEach((c) => c.classList.toggle("drop-over", c === over));
  }

  function initBoard() {
    const b = board();
    if (!b || !window.Sortable || body.dataset.canTriage !== "true") return;
    b.querySelectorAll(".cards").forEach((list) => {
      Sortable.create(list, {
        group: {
          name: "board",
          pull: (to, from, dragEl) => dragEl.dataset.movable === "true",
          put: false,
        },
        sort: false,
        forceFallback: true,
        fallbackTolerance: 4,
        delayOnTouchOnly: true,
        delay: 150,
        filter: "a, button, input, select, textarea",
        preventOnFilter: false,
        draggable: ".card[data-movable]",
        onStart: (evt) => {
          b.classList.add("dragging");
          const next = (evt.item.dataset.next || "").split(" ");
          b.querySelectorAll(".column").forEach((c) => c.classList.toggle("can-drop", next.includes(c.dataset.state)));
        },
        onEnd: (evt) => {
          const oe = evt.originalEvent;
          const p = oe && oe.changedTouches && oe.changedTouches[0] ? oe.changedTouches[0] : oe;
          if (p && typeof p.clientX === "number") pointer = { x: p.clientX, y: p.clientY };
          const target = columnAt(b);
          b.classList.remove("dragging");
          b.querySelectorAll(".column").forEach((c) => c.classList.remove("can-drop", "drop-over"));
          if (evt.to !== evt.from) evt.from.insertBefore(evt.item, evt.from.children[evt.oldIndex] || null);
          if (!target || target.dataset.state === evt.item.dataset.state) return;
          move(evt.item.dataset.id, target.dataset.state);
        },
      });
    });
  }

  // Triage: select all and the selection count.
  function initTriage() {
    const form = document.getElementById("triage-form");
    if (!form) return;
    const all = document.getElementById("select-all");
    const boxes = () => Array.from(form.querySelectorAll('input[name="id"]'));
    const count = () => {
      const n = boxes().filter((b) => b.checked).length;
      document.getElementById("selected-count").textContent = n + " selected";
      if (all) all.checked = n > 0 && n === boxes().length;
    };
    form.addEventListener("change", (e) => {
      if (e.target === all) boxes().forEach((b) => { b.checked = all.checked; });
      count();
    });
    form.addEventListener("submit", (e) => {
      const btn = e.submitter;
      const reason = document.getElementById("triage-reason");
      if (btn && btn.dataset.reason === "true" && reason && !reason.value.trim()) {
        e.preventDefault();
        toast("A reason is required to " + btn.textContent.trim().toLowerCase() + ".", true);
        reason.focus();
      } else if (!boxes().some((b) => b.checked)) {
        e.preventDefault();
        toast("Select at least one item.", true);
      }
    });
    count();
  }

  // Live updates over server-sent events.
  function initLive() {
    const ind = document.getElementById("live");
    if (!ind || !window.EventSource) return;
    const pending = new Map();
    let es;
    const connect = () => {
      es = new EventSource("/events");
      es.onopen = () => { ind.classList.add("on"); ind.querySelector(".live-text").textContent = "live"; };
      es.onerror = () => {
        ind.classList.remove("on"); ind.querySelector(".live-text").textContent = "reconnecting";
        // EventSource retries a dropped stream by itself, but gives up on
        // an error answer (429 when too many tabs hold streams): try again
        // later, when a closed tab may have freed a slot.
        if (es.readyState === EventSource.CLOSED) setTimeout(connect, 30000 + Math.random() * 10000);
      };
      es.addEventListener("reload", () => {
        if (board() && window.htmx && !document.querySelector(".sortable-chosen")) {
          htmx.ajax("GET", "/board" + (filterQuery() ? "?" + filterQuery() : ""), { target: "#board", swap: "outerHTML" });
        }
      });
      es.addEventListener("item", (e) => {
        const c = JSON.parse(e.data);
        if (board()) {
          // Coalesce bursts per card.
          clearTimeout(pending.get(c.id));
          pending.set(c.id, setTimeout(() => { pending.delete(c.id); refreshCard(c.id); }, 150));
          return;
        }
        const main = document.getElementById("item-main");
        if (main && String(c.id) === main.dataset.id && String(c.rev) !== main.dataset.rev) {
          const busy = main.contains(document.activeElement) && /TEXTAREA|INPUT|SELECT/.test(document.activeElement.tagName)
            && document.activeElement.value;
          if (busy) toast("This item changed; save your edit, then reload to see the change.");
          else if (window.htmx) htmx.ajax("GET", `/items/${c.id}`, { target: "#item-main", swap: "outerHTML" });
        }
        const tf = document.getElementById("triage-form") || document.querySelector(".empty");
        if (tf && body.dataset.nav === "triage" && c.state === "New" && !document.getElementById("triage-" + c.id)) {
          toast("New items arrived. Reload to see them.");
        }
      });
    };
    connect();
    window.addEventListener("pagehide", () => es.close());
  }

  // On a phone the filter bar folds away unless a filter is on.
  function initFilters() {
    const box = document.querySelector(".filterbox");
    if (box && !box.dataset.active && window.matchMedia("(max-width: 760px)").matches) box.open = false;
  }

  function init() { initFilters(); initBoard(); initTriage(); initLive(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  // htmx replaces the board when filters change.
  document.addEventListener("htmx:afterSwap", (e) => { if (e.detail.target && e.detail.target.id === "board") initBoard(); });
})();
