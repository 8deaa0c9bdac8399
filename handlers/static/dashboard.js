/* The supervision dashboard's charts: data from the page's JSON block, drawn by the bundled Chart.js (no inline
   script, so a strict Content-Security-Policy without 'unsafe-inline' still allows it). */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  Chart.defaults.font.family = '"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif';
  Chart.defaults.animation = false;
  // A chart with nothing to draw says so instead of leaving a blank box.
  function nothing(canvasId, series, text) {
    var empty = series.every(function (values) { return !values.length || values.every(function (v) { return !v; }); });
    if (empty) {
      var note = document.createElement("p");
      note.className = "empty";
      note.textContent = text;
      document.getElementById(canvasId).parentNode.replaceWith(note);
    }
    return empty;
  }
  var options = { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };

  if (!nothing("chart-daily", [data.daily.received, data.daily.closed], "暂无：这段时间没有收到或销号的案件")) {
    new Chart(document.getElementById("chart-daily"), {
      type: "line",
      data: {
        labels: data.daily.labels,
        datasets: [
          { label: "收到", data: data.daily.received, borderColor: "#c8102e", backgroundColor: "#c8102e", tension: 0.2 },
          { label: "销号", data: data.daily.closed, borderColor: "#0e7490", backgroundColor: "#0e7490", tension: 0.2 }
        ]
      },
      options: options
    });
  }

  if (!nothing("chart-overdue", [data.overdue.values], "暂无超期案件")) {
    new Chart(document.getElementById("chart-overdue"), {
      type: "bar",
      data: { labels: data.overdue.labels, datasets: [{ label: "当前超期", data: data.overdue.values, backgroundColor: "#c8102e" }] },
      options: Object.assign({}, options, { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })
    });
  }
})();
