// The shift view: this page's last verdicts (time, verdict and masked name, kind). Held in
// this page only: nothing is stored on the device, and reloading the page forgets them.
"use strict";
(function () {
  const SHIFT_SIZE = 20;
  const shift = [];
  const $ = (id) => document.getElementById(id);

  function kindOf(answer) {
    if (answer.mode === "assisted") { return "assisted"; }
    if (answer.mode === "id_card") { return "id_card"; }
    return answer.kind === "offline" ? "printed" : "qr";
  }

  function remember(answer, display) {
    if (display === "checking") { return; }
    shift.unshift({
      at: Date.now(), display, kind: kindOf(answer),
      name: answer.masked_name || (answer.shc || {}).masked_name || "–",
      error: answer.error || "",
    });
    shift.length = Math.min(shift.length, SHIFT_SIZE);
  }

  // t: the page's translation function; locale: for the time of day.
  function render(t, locale) {
    $("shift-empty").hidden = shift.length > 0;
    $("shift-list").replaceChildren(...shift.map((entry) => {
      const li = document.createElement("li");
      li.dataset.display = entry.display;
      const time = document.createElement("span");
      time.textContent = new Date(entry.at).toLocaleTimeString(locale);
      const verdict = document.createElement("span");
      verdict.className = "verdict";
      verdict.textContent = t(entry.display) + (entry.error ? " (" + entry.error + ")" : "") + " · " + entry.name;
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = t("kind_" + entry.kind);
      li.append(time, verdict, kind);
      return li;
    }));
  }

  window.HCShift = { remember, render };
}());
