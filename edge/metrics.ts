import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { JobStatsPoller } from "./observability/job-stats.js";

// Node only (edge/node.ts): the Workers build never reaches this file, so prom-client stays out of it.

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);

/**
 * The edge's Prometheus metrics: database-wide gauges from the periodic poll (jobs by status, queue depth, webhook
 * deliveries, live workers) and the HTTP traffic this process serves. Per-batch and per-job figures come from
 * the workers' own /metrics.
 */
export class EdgeMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: "asr_edge_http_requests_total",
    help: "HTTP requests served, by method and status",
    labelNames: ["method", "status"],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "asr_edge_http_request_duration_seconds",
    help: "Time to the response headers, by method",
    labelNames: ["method"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(stats: JobStatsPoller) {
    const registers = [this.registry];
    new Gauge({
      name: "asr_jobs",
      help: "Jobs by status (periodic count of the jobs table)",
      labelNames: ["status"],
      registers,
      collect() {
        for (const [status, n] of Object.entries(stats.latest?.jobsByStatus ?? {})) this.set({ status }, n);
      },
    });
    new Gauge({
      name: "asr_queue_depth_jobs",
      help: "Jobs waiting for a worker (status queued)",
      registers,
      collect() {
        if (stats.latest) this.set(stats.latest.jobsByStatus.queued);
      },
    });
    new Gauge({
      name: "asr_queue_oldest_job_age_seconds",
      help: "Age of the oldest queued job; 0 when none waits",
      registers,
      collect() {
        if (stats.latest) this.set(stats.latest.oldestQueuedSeconds);
      },
    });
    new Gauge({
      name: "asr_webhook_deliveries",
      help: "Webhook deliveries by status (pending, delivering, succeeded, failed, gave_up)",
      labelNames: ["status"],
      registers,
      collect() {
        for (const [status, n] of Object.entries(stats.latest?.webhookDeliveriesByStatus ?? {})) this.set({ status }, n);
      },
    });
    new Gauge({
      name: "asr_workers_live",
      help: "GPU workers whose heartbeat is fresh",
      registers,
      collect() {
        if (stats.latest) this.set(stats.latest.liveWorkers);
      },
    });
    new Counter({
      name: "asr_edge_stats_poll_failures_total",
      help: "Failed periodic reads of the job statistics",
      registers,
      collect() {
        this.reset();
        this.inc(stats.failures);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Wraps the server's fetch handler to count and time every request. */
  instrument<A extends unknown[]>(handler: (request: Request, ...rest: A) => Response | Promise<Response>): (request: Request, ...rest: A) => Promise<Response> {
    return async (request, ...rest) => {
      const method = METHODS.has(request.method) ? request.method : "other";
      const stop = this.duration.startTimer({ method });
      let status = 500;
      try {
        const response = await handler(request, ...rest);
        status = response.status;
        return response;
      } finally {
        stop();
        this.requests.inc({ method, status: String(status) });
      }
    };
  }
}
