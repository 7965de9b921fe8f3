import { describe, expect, it } from "vitest";
import type { Job } from "../../db/schema.js";
import type { BatchReport } from "../../gpu-worker/batcher.js";
import { startMetricsServer } from "../../gpu-worker/metrics-server.js";
import { WorkerMetrics } from "../../gpu-worker/metrics.js";
import { SampleWindow } from "../../gpu-worker/sample-window.js";
import type { MemoryBreakdown } from "../../gpu-worker/scheduler/memory-model.js";

const MiB = 1024 ** 2;
const modeled = (total: number): MemoryBreakdown => ({
  weights: total * 0.6,
  runtimeReserve: total * 0.2,
  kvCache: total * 0.1,
  encoderActivations: total * 0.05,
  prefillActivations: total * 0.03,
  logits: total * 0.01,
  ioBuffers: total * 0.01,
  peakPhase: "decode",
  total,
  shape: { batchSize: 4, paddedPromptTokens: 100, paddedSequenceTokens: 200, largestEncoderCall: { slices: 1, chunks: 1, tokens: 13 } },
});
const batch = (over: Partial<BatchReport> = {}): BatchReport => ({ size: 4, modeled: modeled(400 * MiB), durationMs: 500, audioSeconds: 40, paddingWaste: 0.1, ...over });
const job = (status: Job["status"], created: number, started: number, completed: number): Job =>
  ({ id: "tr_x", status, createdAt: new Date(created), startedAt: new Date(started), completedAt: new Date(completed) }) as Job;

/** The value of one sample line of the text exposition. */
function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  if (!line) throw new Error(`no ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe("worker metrics", () => {
  it("turns batch reports, finished jobs, memory readings and webhook answers into Prometheus series", async () => {
    const metrics = new WorkerMetrics({ budgetBytes: 1024 * MiB });
    metrics.observeState(() => ({ activeJobs: 3, queuedChunks: 7 }));
    metrics.onBatch(batch());
    metrics.onBatch(batch({ size: 2, modeled: modeled(600 * MiB), durationMs: 250, audioSeconds: 10, paddingWaste: 0.3 }));
    metrics.onJobFinished(job("completed", 0, 2000, 5000));
    metrics.onJobFinished(job("failed", 0, 1000, 1500));
    metrics.onMemoryMeasured({ bytes: 700 * MiB, source: "cuda" });
    const hook = metrics.countWebhookAttempts(async (input) => new Response(null, { status: Number(new URL(String(input)).searchParams.get("s")) }));
    await hook("http://x/?s=200");
    await hook("http://x/?s=503");
    await hook("http://x/?s=404");
    await expect(metrics.countWebhookAttempts(async () => Promise.reject(new Error("refused")))("http://x/")).rejects.toThrow("refused");

    const text = await metrics.registry.metrics();
    expect(value(text, "asr_worker_batch_size_count")).toBe(2);
    expect(value(text, "asr_worker_batch_size_sum")).toBe(6);
    expect(value(text, 'asr_worker_batch_size_bucket{le="2"}')).toBe(1);
    expect(value(text, "asr_worker_audio_seconds_processed_total")).toBe(50);
    expect(value(text, "asr_worker_engine_busy_seconds_total")).toBe(0.75);
    expect(value(text, "asr_worker_batch_real_time_factor_sum")).toBeCloseTo(0.5 / 40 + 0.25 / 10, 9);
    expect(value(text, "asr_worker_batch_padding_waste_ratio_sum")).toBeCloseTo(0.4, 9);
    expect(value(text, 'asr_worker_modeled_memory_bytes{term="total"}')).toBe(600 * MiB);
    expect(value(text, 'asr_worker_modeled_memory_bytes{term="kvCache"}')).toBe(60 * MiB);
    expect(value(text, "asr_worker_modeled_memory_peak_bytes")).toBe(600 * MiB);
    expect(value(text, 'asr_worker_batch_modeled_memory_budget_ratio_bucket{le="0.4"}')).toBe(1);
    expect(value(text, 'asr_worker_measured_memory_bytes{source="cuda"}')).toBe(700 * MiB);
    expect(value(text, "asr_worker_memory_budget_bytes")).toBe(1024 * MiB);
    expect(value(text, 'asr_worker_job_queue_wait_seconds_sum{status="completed"}')).toBe(2);
    expect(value(text, 'asr_worker_job_processing_seconds_sum{status="completed"}')).toBe(3);
    expect(value(text, 'asr_worker_job_end_to_end_seconds_sum{status="failed"}')).toBe(1.5);
    expect(value(text, 'asr_worker_jobs_finished_total{status="completed"}')).toBe(1);
    for (const outcome of ["succeeded", "retry", "refused", "network_error"]) expect(value(text, `asr_worker_webhook_attempts_total{outcome="${outcome}"}`)).toBe(1);
    expect(value(text, "asr_worker_active_jobs")).toBe(3);
    expect(value(text, "asr_worker_queued_chunks")).toBe(7);
    expect(text).toContain("process_resident_memory_bytes");
  });

  it("serves them on GET /metrics and nothing else", async () => {
    const metrics = new WorkerMetrics({ budgetBytes: MiB });
    const server = await startMetricsServer(metrics.registry, 0, "127.0.0.1");
    try {
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await response.text()).toContain("asr_worker_memory_budget_bytes 1048576");
      expect((await fetch(server.url.replace("/metrics", "/"))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe("sample window", () => {
  it("closes an interval into one sample and keeps a sliding window", () => {
    const start = Date.parse("2026-01-01T00:00:00Z");
    const window = new SampleWindow(3, start);
    window.recordBatch(batch());
    window.recordBatch(batch({ size: 2, modeled: modeled(600 * MiB), durationMs: 1500, audioSeconds: 20, paddingWaste: 0.3 }));
    window.recordJob(job("completed", start - 4000, start - 1000, start));
    window.recordJob(job("failed", start - 2000, start - 1000, start));
    const sample = window.close(new Date(start + 5000), { activeJobs: 1, queuedChunks: 2 }, { bytes: 123, source: "process_rss" });
    expect(sample).toEqual({
      at: "2026-01-01T00:00:05.000Z",
      intervalSeconds: 5,
      batches: 2,
      batchSizeMean: 3,
      batchSizeMax: 4,
      audioSeconds: 60,
      busySeconds: 2,
      paddingWasteMean: 0.2,
      modeledPeakBytes: 600 * MiB,
      measuredBytes: 123,
      measuredSource: "process_rss",
      jobsCompleted: 1,
      jobsFailed: 1,
      queueWaitSecondsMean: 2,
      queueWaitSecondsMax: 3,
      processingSecondsMean: 1,
      memoryAdjustments: 0,
      fragmentation: null,
      memoryLimits: [],
      activeJobs: 1,
      queuedChunks: 2,
    });
    const idle = window.close(new Date(start + 10_000), { activeJobs: 0, queuedChunks: 0 }, null);
    expect(idle).toMatchObject({ batches: 0, batchSizeMean: 0, paddingWasteMean: null, modeledPeakBytes: null, measuredBytes: null, queueWaitSecondsMean: null });
    for (let i = 3; i <= 5; i++) window.close(new Date(start + i * 5000), { activeJobs: 0, queuedChunks: 0 }, null);
    expect(window.samples.map((s) => s.at)).toEqual(["2026-01-01T00:00:15.000Z", "2026-01-01T00:00:20.000Z", "2026-01-01T00:00:25.000Z"]);
  });
});
