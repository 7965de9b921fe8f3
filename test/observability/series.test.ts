import { describe, expect, it } from "vitest";
import type { JobStatsPoint } from "../../edge/observability/job-stats.js";
import { budgetLines, jobSeries, workerSeries } from "../../edge/observability/series.js";
import type { WorkerReport, WorkerSample } from "../../shared/worker-sample.js";

const NOW = new Date("2026-01-01T12:00:00Z");
const T0 = NOW.getTime() / 1000;

const sample = (secondsAgo: number, over: Partial<WorkerSample> = {}): WorkerSample => ({
  at: new Date(NOW.getTime() - secondsAgo * 1000).toISOString(),
  intervalSeconds: 5,
  batches: 1,
  batchSizeMean: 2,
  batchSizeMax: 2,
  audioSeconds: 10,
  busySeconds: 0.5,
  paddingWasteMean: 0,
  modeledPeakBytes: 100,
  measuredBytes: null,
  measuredSource: null,
  jobsCompleted: 1,
  jobsFailed: 0,
  queueWaitSecondsMean: 1,
  queueWaitSecondsMax: 1,
  processingSecondsMean: 1,
  activeJobs: 0,
  queuedChunks: 1,
  ...over,
});
const worker = (workerId: string, samples: WorkerSample[], budgetBytes = 1000): WorkerReport => ({
  workerId,
  hostname: workerId,
  executionProvider: "cuda",
  budgetBytes,
  safetyMargin: 0.05,
  maxBatch: 8,
  updatedAt: NOW,
  stoppedAt: null,
  samples,
});

describe("dashboard series", () => {
  it("aligns workers on heartbeat-sized buckets: rates add, sizes average by batch, memory takes the max", () => {
    const a = worker("a", [sample(11), sample(6), sample(1, { batchSizeMean: 4, batchSizeMax: 6, batches: 3, modeledPeakBytes: 300 })]);
    const b = worker("b", [sample(2, { audioSeconds: 20, busySeconds: 0.5, batchSizeMean: 1, batchSizeMax: 1, batches: 1, modeledPeakBytes: 200, measuredBytes: 700, measuredSource: "cuda" })]);
    const s = workerSeries([a, b], NOW);
    expect(s.t).toEqual([T0 - 15, T0 - 10, T0 - 5]);
    expect(s.throughput).toEqual([2, 2, 2 + 4]);
    expect(s.engine_throughput).toEqual([20, 20, 30]);
    expect(s.batch_size_mean).toEqual([2, 2, (4 * 3 + 1) / 4]);
    expect(s.batch_size_max).toEqual([2, 2, 6]);
    expect(s.modeled_peak_bytes).toEqual([100, 100, 300]);
    expect(s.measured_device_bytes).toEqual([null, null, 700]);
    expect(s.queued_chunks).toEqual([1, 1, 2]);
  });

  it("leaves missing intervals as gaps and drops samples outside the window", () => {
    const s = workerSeries([worker("a", [sample(3600), sample(21), sample(1)])], NOW, { windowSeconds: 600 });
    expect(s.t).toEqual([T0 - 25, T0 - 20, T0 - 15, T0 - 10, T0 - 5]);
    expect(s.throughput).toEqual([2, null, null, null, 2]);
  });

  it("is empty without samples", () => {
    expect(workerSeries([], NOW).t).toEqual([]);
  });

  it("charts job counts from the edge's periodic readings, and the budget lines from the largest budget", () => {
    const point = (secondsAgo: number, queued: number): JobStatsPoint => ({
      at: new Date(NOW.getTime() - secondsAgo * 1000),
      jobsByStatus: { queued, processing: 1, completed: 10, failed: 0, canceled: 0 },
      oldestQueuedSeconds: queued * 2,
      webhookDeliveriesByStatus: { pending: 0, delivering: 0, succeeded: 0, failed: 0, gave_up: 0 },
      liveWorkers: 1,
    });
    const jobs = jobSeries([point(2000, 9), point(10, 3), point(5, 4)], NOW);
    expect(jobs.t).toEqual([T0 - 10, T0 - 5]);
    expect(jobs.by_status.queued).toEqual([3, 4]);
    expect(jobs.oldest_queued_seconds).toEqual([6, 8]);
    expect(budgetLines([worker("a", [], 1000), worker("b", [], 2000)])).toEqual({ budget_bytes: 2000, alert_bytes: 1800 });
    expect(budgetLines([])).toEqual({ budget_bytes: null, alert_bytes: null });
  });
});
