// Overview chart: tasks per second by outcome over the last hour (uPlot, vendored).
(function () {
  "use strict";
  const box = document.getElementById("chart");
  if (!box || !window.uPlot) return;
  const kinds = [
    ["succeeded", "#2e7d32"], ["failed", "#c62828"], ["retried", "#ef6c00"],
    ["deferred", "#1565c0"], ["dead_lettered", "#6a1b9a"],
  ];
  let plot = null;
  async function draw() {
    const response = await fetch(box.dataset.series, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    const columns = [data.t].concat(kinds.map(function (k) { return data[k[0]]; }));
    if (plot === null) {
      const series = [{}].concat(kinds.map(function (k) {
        return { label: k[0], stroke: k[1], width: 1.5 };
      }));
      plot = new uPlot({ width: Math.max(320, box.clientWidth), height: 220, series: series,
        axes: [{}, { label: "tasks/s" }] }, columns, box);
      box.dataset.ready = "true";
    } else {
      plot.setData(columns);
    }
  }
  draw();
  setInterval(function () { draw().catch(function () {}); }, 5000);
})();
