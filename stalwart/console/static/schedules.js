// Schedules: preview the next 5 fire times (in the schedule's zone) and save.
(function () {
  "use strict";
  const form = document.getElementById("schedule-form");
  if (!form) return;
  const times = document.getElementById("schedule-times");

  function spec() {
    const f = new FormData(form);
    const kind = f.get("kind");
    const out = { name: f.get("name"), task: f.get("task"), tz: f.get("tz") || null,
      queue: f.get("queue") || null, missed: f.get("missed"), paused: f.get("paused") === "on" };
    out[kind] = f.get("timing");
    try { out.args = JSON.parse(f.get("args") || "[]"); } catch (e) { out.args = f.get("args"); }
    try { out.kwargs = JSON.parse(f.get("kwargs") || "{}"); } catch (e) { out.kwargs = f.get("kwargs"); }
    return out;
  }

  document.getElementById("schedule-preview").addEventListener("click", async function () {
    const s = spec();
    const query = new URLSearchParams();
    ["cron", "every", "at", "tz"].forEach(function (k) { if (s[k]) query.set(k, s[k]); });
    times.innerHTML = "";
    try {
      const data = await window.stalwart.api("GET", "/api/schedules/preview?" + query.toString());
      data.local.forEach(function (t, i) {
        const li = document.createElement("li");
        li.textContent = t + "  (" + data.utc[i] + ")";
        times.appendChild(li);
      });
      window.stalwart.flash("next fire times in " + data.zone, false);
    } catch (error) {
      window.stalwart.flash(error.message, true);
    }
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const s = spec();
    const editing = form.elements.editing.value;
    try {
      if (editing) await window.stalwart.api("PUT", "/api/schedules/" + encodeURIComponent(editing), s);
      else await window.stalwart.api("POST", "/api/schedules", s);
      window.stalwart.flash((editing ? "saved " : "added ") + s.name, false);
      form.elements.editing.value = "";
      form.elements.name.readOnly = false;
      await window.stalwart.refresh();
    } catch (error) {
      window.stalwart.flash(error.message, true);
    }
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-edit]");
    if (!button) return;
    const s = JSON.parse(button.dataset.edit);
    const kind = s.kind === "interval" ? "every" : s.kind;
    form.elements.name.value = s.name;
    form.elements.name.readOnly = true;
    form.elements.editing.value = s.name;
    form.elements.task.value = s.task;
    form.elements.kind.value = kind;
    form.elements.timing.value = kind === "cron" ? s.cron : kind === "every" ? s.every + "s" : s.at;
    form.elements.tz.value = s.timezone || "";
    form.elements.args.value = JSON.stringify(s.args);
    form.elements.kwargs.value = JSON.stringify(s.kwargs);
    form.elements.queue.value = (s.options && s.options.queue) || "";
    form.elements.missed.value = s.missed;
    document.getElementById("schedule-editor").open = true;
  });
})();
