// Container health probe (Dockerfile HEALTHCHECK, Kubernetes exec probe): `node gpu-worker/healthcheck.mjs`.
// Plain JavaScript so it starts in milliseconds without tsx.
//
// Asks the worker's metrics server (WORKER_METRICS_PORT, default 9464; "off" = none) for /metrics. It answers
// only while the worker's event loop turns, so a timeout or an error status means a wedged or failing worker.
// Nothing listening (the model is still loading, or the server is off) counts as healthy unless
// HEALTHCHECK_REQUIRE_METRICS=1; Kubernetes sets that and lets its startupProbe cover the model load.
import { request } from "node:http";

const portSetting = (process.env.WORKER_METRICS_PORT || "9464").trim();
const bound = process.env.WORKER_METRICS_HOST;
const host = !bound || bound === "0.0.0.0" || bound === "::" ? "127.0.0.1" : bound;
const requireMetrics = process.env.HEALTHCHECK_REQUIRE_METRICS === "1";
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 5000);

function done(healthy, why) {
  (healthy ? console.log : console.error)(`${healthy ? "healthy" : "unhealthy"}: ${why}`);
  process.exit(healthy ? 0 : 1);
}

if (portSetting === "off") done(!requireMetrics, "WORKER_METRICS_PORT=off: no metrics server to ask");
const port = Number(portSetting);

const req = request({ host, port, path: "/metrics", timeout: timeoutMs }, (res) => {
  res.resume();
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  done(ok, `GET /metrics on :${port} answered ${res.statusCode}`);
});
req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
req.on("error", (error) => {
  if (error.code === "ECONNREFUSED" && !requireMetrics) done(true, `no metrics server on :${port}; the worker process is up`);
  else done(false, `GET /metrics on :${port}: ${error.message}`);
});
req.end();
