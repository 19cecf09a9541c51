// reports.js helps the reports page's filter form: it offers the
// browser's time zone when the address names none, and keeps the period
// select and the date inputs from saying two things at once. Without it
// the form still works: the server's default zone is used, and dates
// given win over the period select, as in the API.
(function () {
  "use strict";
  const form = document.getElementById("report-form");
  if (!form) return;

  const tz = document.getElementById("report-tz");
  if (tz && tz.dataset.fill === "true") {
    let zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      zone = "";
    }
    if (zone && zone !== tz.value) {
      const shown = tz.value;
      tz.value = zone;
      const note = document.getElementById("tz-note");
      if (note) {
        note.textContent = "The figures are in " + shown + "; Apply to see them in " + zone + ".";
        note.hidden = false;
      }
    }
  }

  const days = document.getElementById("report-days");
  const from = document.getElementById("report-from");
  const to = document.getElementById("report-to");
  if (!days || !from || !to) return;
  // A preset period clears the dates, which would otherwise win; a date
  // typed makes the period "custom".
  days.addEventListener("change", function () {
    if (days.value !== "") {
      from.value = "";
      to.value = "";
    }
  });
  [from, to].forEach(function (el) {
    el.addEventListener("input", function () {
      if (el.value !== "") days.value = "";
    });
  });
})();
