// rules.js drives the automation-rule editor: add and remove builder rows
// and actions, show each action's fields, keep the CEL box in step with
// the builder (the server writes the CEL: POST /rules/cel), and show a
// preview in place (POST /rules/preview). Without it the form still
// works: every field is submitted and the server re-renders.
(function () {
  "use strict";
  const form = document.getElementById("rule-form");
  if (!form) return;
  const csrf = document.body.dataset.csrf;
  const cel = document.getElementById("rule-cel");
  const mode = document.getElementById("cel-mode");
  const note = document.getElementById("cel-note");

  function post(url) {
    return fetch(url, {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" },
    });
  }

  // Each action block shows the fields its type uses; the others stay
  // in the form, hidden, so that the parallel lists keep their order.
  function showFields(block) {
    const type = block.querySelector(".act-type").value;
    block.dataset.type = type;
    block.querySelectorAll("[data-for]").forEach((el) => {
      const off = !el.dataset.for.split(" ").includes(type);
      el.hidden = off;
      // The page's styles may give labels a display of their own, which
      // would win over the hidden attribute.
      el.style.display = off ? "none" : "";
    });
  }

  let timer = 0;
  let seq = 0;
  function builderChanged() {
    if (mode.value === "cel") return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const n = ++seq;
      try {
        const res = await post("/rules/cel");
        const body = await res.text();
        if (n !== seq || mode.value === "cel") return;
        if (res.ok) {
          cel.value = body;
          cel.removeAttribute("aria-invalid");
          note.textContent = "The builder writes this; edit it by hand to go beyond the builder (the builder is then ignored).";
        } else {
          cel.setAttribute("aria-invalid", "true");
          note.textContent = body;
        }
      } catch (e) {
        note.textContent = "Could not reach vigil to write the condition.";
      }
    }, 150);
  }

  function add(listID, templateID) {
    const tpl = document.getElementById(templateID);
    const node = tpl.content.firstElementChild.cloneNode(true);
    document.getElementById(listID).appendChild(node);
    return node;
  }

  document.getElementById("add-row").addEventListener("click", () => {
    add("rows", "row-template").querySelector(".row-property").focus();
    builderChanged();
  });
  document.getElementById("add-action").addEventListener("click", () => {
    const b = add("actions", "action-template");
    showFields(b);
    b.querySelector(".act-type").focus();
  });

  form.addEventListener("click", (e) => {
    const rm = e.target.closest(".remove-row, .remove-action");
    if (!rm) return;
    rm.closest("li").remove();
    if (rm.classList.contains("remove-row")) builderChanged();
  });
  form.addEventListener("change", (e) => {
    if (e.target.classList.contains("act-type")) showFields(e.target.closest(".action-block"));
  });
  const builder = document.getElementById("builder");
  builder.addEventListener("input", (e) => {
    if (e.target === cel) {
      // Written by hand: from now on the condition is the text.
      mode.value = "cel";
      note.textContent = "The condition is written by hand: the builder is ignored.";
      return;
    }
    builderChanged();
  });
  builder.addEventListener("change", (e) => { if (e.target !== cel) builderChanged(); });
  const again = document.getElementById("use-builder");
  if (again) again.addEventListener("click", () => { mode.value = "builder"; builderChanged(); });

  document.getElementById("preview").addEventListener("click", async (e) => {
    e.preventDefault();
    const out = document.getElementById("preview-result");
    out.textContent = "Previewing…";
    try {
      const res = await post(form.dataset.preview);
      const body = await res.text();
      if (res.ok) {
        out.innerHTML = body;
      } else {
        out.innerHTML = "";
        const p = document.createElement("p");
        p.className = "error";
        p.setAttribute("role", "alert");
        p.textContent = body;
        out.appendChild(p);
      }
    } catch (err) {
      out.textContent = "Could not reach vigil for the preview.";
    }
  });

  form.querySelectorAll(".action-block").forEach(showFields);
})();
