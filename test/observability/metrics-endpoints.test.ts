import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerHeartbeats } from "../../db/schema.js";
import type { RecommendationsView } from "../../edge/routes/observability.js";
import { startWorker } from "../../gpu-worker/main.js";
import { workerMetricsPort } from "../../gpu-worker/observability.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { createLogger } from "../../shared/logger.js";
import { webhookReceiver } from "../support/stack.js";
import { speechWav, startObservedStack, type ObservedStack } from "./observed-stack.js";

/** The value of one sample line of the text exposition. */
function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  if (!line) throw new Error(`no ${series} in the exposition`);
  return Number(line.slice(series.length + 1));
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("metrics, heartbeats and recommendations on a running stack", () => {
  let stack: ObservedStack;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  beforeAll(async () => {
    hooks = await webhookReceiver();
    stack = await startObservedStack("postgres");
    const job = await stack.transcribe(speechWav, { webhookUrl: hooks.url });
    expect(job.status).toBe("completed");
    await until(() => hooks.received.length === 1);
    await stack.worker.observability.heartbeat.tick();
    await stack.admin.observability.stats.poll();
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await hooks?.close();
  });

  it("the worker counts batches, audio, latencies and webhook attempts", async () => {
    const text = await stack.worker.observability.metrics.registry.metrics();
    expect(value(text, "asr_worker_batch_size_count")).toBeGreaterThanOrEqual(1);
    expect(value(text, "asr_worker_audio_seconds_processed_total")).toBeGreaterThan(1);
    expect(value(text, "asr_worker_modeled_memory_peak_bytes")).toBeGreaterThan(0);
    expect(value(text, 'asr_worker_measured_memory_bytes{source="process_rss"}')).toBeGreaterThan(0);
    expect(value(text, 'asr_worker_jobs_finished_total{status="completed"}')).toBe(1);
    expect(value(text, 'asr_worker_job_end_to_end_seconds_count{status="completed"}')).toBe(1);
    await until(async () => (await stack.worker.observability.metrics.registry.metrics()).includes('asr_worker_webhook_attempts_total{outcome="succeeded"} 1'));
  });

  it("the edge serves /metrics with the admin token only, with the database-wide gauges", async () => {
    expect((await fetch(`${stack.admin.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${stack.admin.url}/metrics`, { headers: { Authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${stack.edge.url}/metrics`)).status).toBe(404); // no admin token configured there
    await until(async () => {
      await stack.admin.observability.stats.poll();
      return stack.admin.observability.stats.latest?.webhookDeliveriesByStatus.succeeded === 1;
    });
    const response = await stack.adminRequest("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(value(text, 'asr_jobs{status="completed"}')).toBe(1);
    expect(value(text, 'asr_jobs{status="queued"}')).toBe(0);
    expect(value(text, "asr_queue_depth_jobs")).toBe(0);
    expect(value(text, "asr_queue_oldest_job_age_seconds")).toBe(0);
    expect(value(text, 'asr_webhook_deliveries{status="succeeded"}')).toBe(1);
    expect(value(text, "asr_workers_live")).toBe(1);
    expect(value(text, 'asr_edge_http_requests_total{method="POST",status="202"}')).toBe(1);
    expect(text).toContain("asr_edge_http_request_duration_seconds_bucket");
  });

  it("the heartbeat row carries the worker's settings and its sample window", async () => {
    const [row] = await stack.database.db.select().from(workerHeartbeats).where(eq(workerHeartbeats.workerId, stack.worker.observability.workerId));
    expect(row).toMatchObject({ executionProvider: "cpu", budgetBytes: stack.config.batching.budgetBytes, maxBatch: stack.config.batching.maxBatch, stoppedAt: null });
    expect(row.samples.length).toBeGreaterThanOrEqual(2);
    expect(row.samples.reduce((n, s) => n + s.jobsCompleted, 0)).toBe(1);
    expect(row.samples.some((s) => s.batches > 0 && s.audioSeconds > 0 && s.modeledPeakBytes !== null)).toBe(true);
  });

  it("GET /v1/admin/recommendations needs the admin token and reports the live worker as healthy", async () => {
    expect((await fetch(`${stack.admin.url}/v1/admin/recommendations`)).status).toBe(401);
    const response = await stack.adminRequest("/v1/admin/recommendations");
    expect(response.status).toBe(200);
    const body = (await response.json()) as RecommendationsView;
    expect(body.workers).toEqual([expect.objectContaining({ id: stack.worker.observability.workerId, live: true, execution_provider: "cpu" })]);
    expect(body.recommendations).toEqual([expect.objectContaining({ rule: "healthy", severity: "info", worker_id: null })]);
    const series = await stack.adminRequest("/v1/admin/metrics/series");
    expect(series.status).toBe(200);
  });

  it("a second worker opens its own /metrics port, reports beside the first, and marks its row stopped on exit", async () => {
    const queue = sqsJobQueue({ queueUrl: stack.sqs.queueUrl, endpoint: stack.sqs.endpoint });
    const second = await startWorker({
      config: stack.config,
      database: stack.database,
      blobs: new FsBlobStore(stack.blobDir),
      queue,
      engine: stack.worker.engine,
      observability: { metricsPort: 0, metricsHost: "127.0.0.1", workerId: "second-worker" },
    });
    try {
      const url = second.observability.metricsServer?.url;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const scraped = await fetch(url!);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain("asr_worker_memory_budget_bytes");
      const body = (await (await stack.adminRequest("/v1/admin/recommendations")).json()) as RecommendationsView;
      expect(body.workers.map((w) => w.id).sort()).toEqual([stack.worker.observability.workerId, "second-worker"].sort());
    } finally {
      await second.stop();
    }
    const [row] = await stack.database.db.select().from(workerHeartbeats).where(eq(workerHeartbeats.workerId, "second-worker"));
    expect(row.stoppedAt).toBeInstanceOf(Date);
    const body = (await (await stack.adminRequest("/v1/admin/recommendations")).json()) as RecommendationsView;
    expect(body.workers.find((w) => w.id === "second-worker")?.live).toBe(false);
    expect(body.recommendations.map((r) => r.rule)).toEqual(["healthy"]); // stopped on purpose: not "silent"
  });

  it("WORKER_METRICS_PORT defaults to 9464 and can be turned off", () => {
    expect(workerMetricsPort({})).toBe(9464);
    expect(workerMetricsPort({ WORKER_METRICS_PORT: "9100" })).toBe(9100);
    expect(workerMetricsPort({ WORKER_METRICS_PORT: "off" })).toBeUndefined();
    expect(() => workerMetricsPort({ WORKER_METRICS_PORT: "http" })).toThrow(/WORKER_METRICS_PORT/);
  });
});

describe("a memory rule firing end to end", () => {
  let stack: ObservedStack;
  const lines: string[] = [];
  beforeAll(async () => {
    // No safety margin and a budget just above one clip's modeled peak: every batch plans to > 90 % of the budget.
    const logger = createLogger({}, { write: (line) => lines.push(line) });
    stack = await startObservedStack("postgres", { batching: { budgetBytes: 400 * 1024 ** 2, safetyMargin: 0 } }, logger);
    expect((await stack.transcribe(speechWav)).status).toBe("completed");
    await stack.worker.observability.heartbeat.tick();
  }, 120_000);
  afterAll(() => stack?.stop());

  it("is logged once by the worker and returned by the admin API with its numbers", async () => {
    const firing = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "recommendation firing");
    expect(firing).toEqual([expect.objectContaining({ level: "error", rule: "memory_alert", severity: "critical" })]);
    await stack.worker.observability.heartbeat.tick(); // still firing: not logged again
    expect(lines.filter((l) => l.includes('"recommendation firing"'))).toHaveLength(1);

    const body = (await (await stack.adminRequest("/v1/admin/recommendations")).json()) as RecommendationsView;
    const [alert] = body.recommendations;
    expect(alert).toMatchObject({ rule: "memory_alert", severity: "critical", worker_id: stack.worker.observability.workerId });
    expect(alert.numbers.budget_bytes).toBe(400 * 1024 ** 2);
    expect(alert.numbers.fraction_of_budget).toBeGreaterThan(0.9);
    expect(alert.message).toMatch(/raise batching\.safetyMargin \(now 0\.00\)/);
  });
});
