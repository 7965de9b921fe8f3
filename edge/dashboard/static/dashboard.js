// The live dashboard: polls /dashboard/api/series (same JSON as GET /v1/admin/metrics/series) and draws it with
// uPlot (global from uPlot.iife.min.js). Plain browser script, no build step; text goes in via textContent only.
(() => {
  "use strict";

  const POLL_MS = 2000;
  const HEIGHT = 230;
  const C = { blue: "#4cc2ff", green: "#3fb950", orange: "#f0883e", purple: "#bc8cff", red: "#f85149", yellow: "#d29922", grey: "#8b96a3", teal: "#39d0b8" };

  // ------------------------------------------------------------------------------------------ formatting
  const GiB = 2 ** 30;
  const MiB = 2 ** 20;
  const bytes = (v) => (v == null ? "–" : v >= GiB ? `${(v / GiB).toFixed(2)} GiB` : v >= MiB ? `${(v / MiB).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(0)} KiB` : `${Math.round(v)} B`);
  const fixed = (digits) => (v) => (v == null ? "–" : Number(v).toFixed(digits));
  const seconds = (v) => (v == null ? "–" : v < 1 ? `${Math.round(v * 1000)} ms` : v < 120 ? `${v.toFixed(1)} s` : `${(v / 60).toFixed(1)} min`);
  const count = (v) => (v == null ? "–" : String(Math.round(v)));
  const ticks = (format) => (_u, splits) => splits.map((v) => format(v));

  function formatNumber(key, value) {
    if (key.endsWith("_bytes")) return bytes(value);
    if (key.includes("fraction")) return `${(value * 100).toFixed(0)} %`;
    if (key.includes("seconds")) return seconds(value);
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }

  // ------------------------------------------------------------------------------------------ charts
  const axis = (extra = {}) => ({ stroke: C.grey, grid: { stroke: "#222a33", width: 1 }, ticks: { stroke: "#2a323c", width: 1 }, size: 64, ...extra });
  const rightAxis = (scale, format) => axis({ scale, side: 1, grid: { show: false }, values: ticks(format) });
  const fromZero = (_u, _min, max) => [0, max != null && max > 0 ? max * 1.15 : 1];
  // Tick steps: whole items for counts, powers of two for bytes.
  const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
  const BINARY = Array.from({ length: 40 }, (_, i) => 2 ** (i + 10));
  // With the cursor off the chart, the legend shows each series' latest value instead of a dash.
  const latest = (format) => (u, v, seriesIdx, idx) => {
    if (idx == null) {
      const column = u.data[seriesIdx];
      for (let i = column.length - 1; i >= 0; i--) if (column[i] != null) return format(column[i]);
      return "–";
    }
    return format(v);
  };
  const stepped = () => uPlot.paths.stepped({ align: 1 });
  const counts = { format: count, paths: stepped(), points: { show: false } };
  const line = (label, stroke, { format = fixed(2), ...extra } = {}) => ({ label, stroke, width: 2, ...extra, value: latest(format) });
  const dashed = (label, stroke, extra = {}) => line(label, stroke, { dash: [6, 4], width: 1.5, points: { show: false }, ...extra });
  const audioRate = (v) => `${fixed(2)(v)} audio-s/s`;
  const speed = (v) => `${fixed(1)(v)}×`;
  const constant = (t, value) => t.map(() => value);

  const CHARTS = {
    "chart-throughput": {
      scales: { y: { range: fromZero }, engine: { range: fromZero } },
      series: [line("delivered", C.blue, { format: audioRate }), line("engine speed", C.green, { scale: "engine", format: speed })],
      axes: [axis({ values: ticks(fixed(2)) }), rightAxis("engine", (v) => `${fixed(0)(v)}×`)],
      data: (s) => [s.worker.t, s.worker.throughput, s.worker.engine_throughput],
    },
    "chart-batch": {
      scales: { y: { range: fromZero } },
      series: [line("mean", C.purple, { format: fixed(1) }), line("largest", C.orange, { format: count })],
      axes: [axis({ values: ticks(fixed(0)), incrs: WHOLE })],
      data: (s) => [s.worker.t, s.worker.batch_size_mean, s.worker.batch_size_max],
    },
    "chart-memory": {
      scales: { y: { range: fromZero }, rss: { range: fromZero } },
      series: [
        line("modeled peak", C.teal, { format: bytes }),
        line("measured (device)", C.blue, { format: bytes }),
        dashed("budget", C.red, { format: bytes }),
        dashed("alert 90 %", C.yellow, { format: bytes }),
        line("host RSS", C.grey, { scale: "rss", width: 1, format: bytes }),
        // Points only: where the memory feedback loop changed the margin, the batch cap or a correction.
        line("loop adjusted", C.orange, { format: bytes, paths: () => null, points: { show: true, size: 9, fill: C.orange } }),
      ],
      axes: [axis({ values: ticks(bytes), incrs: BINARY, size: 84 }), { ...rightAxis("rss", bytes), incrs: BINARY, size: 84 }],
      data: (s) => [s.worker.t, s.worker.modeled_peak_bytes, s.worker.measured_device_bytes, constant(s.worker.t, s.budget_bytes), constant(s.worker.t, s.alert_bytes), s.worker.process_rss_bytes, s.worker.memory_adjustments],
    },
    "chart-queue": {
      scales: { y: { range: fromZero } },
      series: [line("mean", C.blue, { format: seconds }), line("longest", C.orange, { format: seconds })],
      axes: [axis({ values: ticks(seconds), size: 60 })],
      data: (s) => [s.worker.t, s.worker.queue_wait_seconds_mean, s.worker.queue_wait_seconds_max],
    },
    "chart-jobs": {
      scales: { y: { range: fromZero }, done: { range: fromZero } },
      series: [
        line("queued", C.yellow, counts),
        line("processing", C.blue, counts),
        line("completed", C.green, { ...counts, scale: "done" }),
        line("failed", C.red, { ...counts, scale: "done" }),
        line("canceled", C.grey, { ...counts, scale: "done", width: 1 }),
      ],
      axes: [axis({ values: ticks(count), incrs: WHOLE }), { ...rightAxis("done", count), incrs: WHOLE, size: 56 }],
      data: (s) => [s.jobs.t, s.jobs.by_status.queued, s.jobs.by_status.processing, s.jobs.by_status.completed, s.jobs.by_status.failed, s.jobs.by_status.canceled],
    },
  };

  const plots = new Map();

  function draw(id, series) {
    const def = CHARTS[id];
    const el = document.getElementById(id);
    const data = def.data(series);
    const points = data[1].filter((v) => v != null).length;
    el.dataset.points = String(points);
    let plot = plots.get(id);
    if (!plot) {
      plot = new uPlot(
        {
          width: Math.max(300, el.clientWidth),
          height: HEIGHT,
          scales: { x: { time: true }, ...def.scales },
          series: [{ value: latest((v) => new Date(v * 1000).toLocaleTimeString()) }, ...def.series],
          axes: [axis({ size: 50 }), ...def.axes],
          legend: { live: true },
          cursor: { points: { size: 6 } },
        },
        data,
        el,
      );
      plots.set(id, plot);
      new ResizeObserver(() => plot.setSize({ width: Math.max(300, el.clientWidth), height: HEIGHT })).observe(el);
    } else {
      plot.setData(data);
    }
  }

  // ------------------------------------------------------------------------------------------ panels
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function renderRecommendations(list) {
    const ul = document.getElementById("recommendations");
    ul.replaceChildren(
      ...list.map((r) => {
        const li = el("li", `rec ${r.severity}`);
        li.dataset.rule = r.rule;
        const head = el("header");
        head.append(el("span", "severity", r.severity), el("span", "rule", r.rule.replaceAll("_", " ")));
        if (r.worker_id) head.append(el("span", "worker", r.worker_id));
        const numbers = el("div", "numbers");
        for (const [key, value] of Object.entries(r.numbers)) {
          const item = el("span", null, `${key.replaceAll("_", " ")} `);
          item.append(el("b", null, formatNumber(key, value)));
          numbers.append(item);
        }
        li.append(head, el("p", null, r.message), numbers);
        return li;
      }),
    );
  }

  function renderStats(s) {
    const jobs = s.current ? s.current.jobs_by_status : null;
    const live = s.workers.filter((w) => w.live).length;
    const set = (id, text) => (document.getElementById(id).textContent = text);
    set("stat-workers", `${live} / ${s.workers.length}`);
    set("stat-queued", jobs ? count(jobs.queued) : "–");
    set("stat-processing", jobs ? count(jobs.processing) : "–");
    set("stat-completed", jobs ? count(jobs.completed) : "–");
    set("stat-failed", jobs ? count(jobs.failed) : "–");
    set("stat-oldest", s.current ? seconds(s.current.oldest_queued_seconds) : "–");
    set("stat-budget", bytes(s.budget_bytes));
  }

  function renderWorkers(workers) {
    const body = document.getElementById("workers");
    if (workers.length === 0) {
      const cell = el("td", null, "no worker has reported in the last 30 minutes");
      cell.colSpan = 5;
      const row = el("tr");
      row.append(cell);
      body.replaceChildren(row);
      return;
    }
    body.replaceChildren(
      ...workers.map((w) => {
        const tr = el("tr");
        const name = el("td");
        // A worker whose last heartbeat said it was stopping stopped cleanly, even if its final write is missing.
        const stopped = w.stopped_at || (w.stopping_since && !w.live);
        const state = stopped ? "stopped" : w.stopping_since ? "stopping" : null;
        name.append(el("span", `dot ${stopped ? "gone" : w.live ? (state ? "stopping" : "") : "silent"}`), document.createTextNode(w.hostname));
        name.title = w.id;
        const seen = seconds((Date.now() - Date.parse(w.last_seen_at)) / 1000);
        tr.append(name, el("td", null, w.execution_provider), el("td", null, state === "stopped" ? "stopped" : state === "stopping" ? `stopping (${seen} ago)` : `${seen} ago`), el("td", null, String(w.max_batch)), el("td", null, w.safety_margin.toFixed(2)));
        return tr;
      }),
    );
  }

  function renderWebhooks(current) {
    const box = document.getElementById("webhooks");
    const byStatus = current ? current.webhook_deliveries_by_status : {};
    box.replaceChildren(
      ...["succeeded", "pending", "delivering", "failed", "gave_up"].map((status) => {
        const item = el("div");
        item.append(el("dt", null, status.replace("_", " ")), el("dd", null, byStatus[status] == null ? "–" : String(byStatus[status])));
        return item;
      }),
    );
  }

  // ------------------------------------------------------------------------------------------ polling
  const updated = document.getElementById("updated");

  async function poll() {
    try {
      const response = await fetch("/dashboard/api/series", { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) {
        location.reload(); // the session ended: back to the sign-in form
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const series = await response.json();
      for (const id of Object.keys(CHARTS)) draw(id, series);
      renderRecommendations(series.recommendations);
      renderStats(series);
      renderWorkers(series.workers);
      renderWebhooks(series.current);
      updated.textContent = `updated ${new Date(series.generated_at).toLocaleTimeString()}`;
      updated.classList.remove("stale");
      document.body.dataset.loaded = "true";
    } catch (error) {
      updated.textContent = `update failed (${error.message}); retrying`;
      updated.classList.add("stale");
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
