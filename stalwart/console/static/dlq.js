// Dead letters: bulk replay/discard of what the filter matches, with a confirmation
// that names how many, then a progress bar fed by the job it started.
(function () {
  "use strict";
  const panel = document.querySelector(".bulk");
  if (!panel) return;
  const bar = document.getElementById("bulk-progress");
  const status = document.getElementById("bulk-status");

  async function follow(job) {
    bar.hidden = false;
    bar.max = Math.max(1, job.total);
    while (true) {
      job = await window.stalwart.api("GET", "/api/jobs/" + job.id);
      bar.value = job.done;
      status.textContent = job.done + " / " + job.total;
      if (job.state !== "running") break;
      await new Promise(function (r) { setTimeout(r, 300); });
    }
    if (job.state === "failed") window.stalwart.flash(job.error, true);
    else window.stalwart.flash(job.action + ": " + job.done + " done", false);
    status.dataset.state = job.state;
    await window.stalwart.refresh();
  }

  panel.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-bulk]");
    if (!button) return;
    const action = button.dataset.bulk;
    const count = Number(button.dataset.count);
    const name = panel.dataset.bulkName;
    if (count === 0) { window.stalwart.flash("nothing to " + action, true); return; }
    const what = count + " dead letter(s)" + (name ? " of " + name : "");
    if (!window.confirm((action === "replay" ? "Replay " : "Discard for good ") + what + "?")) return;
    const body = { action: action, expected: count, name: name || null,
      since: panel.dataset.bulkSince || null, include_replayed: panel.dataset.bulkReplayed === "true" };
    try {
      await follow(await window.stalwart.api("POST", "/api/dlq/bulk", body));
    } catch (error) {
      window.stalwart.flash(error.message, true);
    }
  });
})();
