import { describe, expect, it } from "vitest";
import { recommend, type Recommendation } from "../../shared/recommendations.js";
import type { WorkerReport, WorkerSample } from "../../shared/worker-sample.js";

const GiB = 1024 ** 3;
const NOW = new Date("2026-01-01T12:00:00Z");

const sample = (secondsAgo: number, over: Partial<WorkerSample> = {}): WorkerSample => ({
  at: new Date(NOW.getTime() - secondsAgo * 1000).toISOString(),
  intervalSeconds: 5,
  batches: 2,
  batchSizeMean: 4,
  batchSizeMax: 6,
  audioSeconds: 200,
  busySeconds: 2,
  paddingWasteMean: 0.05,
  modeledPeakBytes: 2 * GiB,
  measuredBytes: null,
  measuredSource: null,
  jobsCompleted: 3,
  jobsFailed: 0,
  queueWaitSecondsMean: 1,
  queueWaitSecondsMax: 2,
  processingSecondsMean: 3,
  activeJobs: 2,
  queuedChunks: 0,
  ...over,
});

/** `n` samples 5 s apart, the newest now; `over(i)` tweaks the i-th (0 = oldest). */
const window = (n: number, over: (i: number) => Partial<WorkerSample> = () => ({})): WorkerSample[] =>
  Array.from({ length: n }, (_, i) => sample((n - 1 - i) * 5, over(i)));

const worker = (samples: WorkerSample[], over: Partial<WorkerReport> = {}): WorkerReport => ({
  workerId: "w1",
  hostname: "gpu-1",
  executionProvider: "cuda",
  budgetBytes: 5 * GiB,
  safetyMargin: 0.05,
  maxBatch: 32,
  updatedAt: new Date(NOW.getTime() - 2000),
  stoppedAt: null,
  samples,
  ...over,
});

const rules = (found: Recommendation[]) => found.map((r) => r.rule);

describe("recommendations", () => {
  it("says healthy, with the numbers behind it, when no rule fires", () => {
    const [only, ...rest] = recommend([worker(window(12))], NOW);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ rule: "healthy", severity: "info" });
    expect(only.numbers).toMatchObject({ live_workers: 1, peak_memory_fraction_of_budget: 0.4, throughput: 100, queue_wait_seconds_mean: 1 });
    expect(only.message).toMatch(/memory peaked at 40 % of the budget/);
  });

  describe("memory", () => {
    it("alerts above 90 % of the budget on the latest sample, advising a higher safety margin or a lower batch cap", () => {
      const found = recommend([worker(window(3, (i) => ({ modeledPeakBytes: i === 2 ? 4.7 * GiB : 2 * GiB })))], NOW);
      expect(rules(found)).toEqual(["memory_alert"]);
      const [alert] = found;
      expect(alert.severity).toBe("critical");
      expect(alert.workerId).toBe("w1");
      expect(alert.numbers).toMatchObject({ memory_bytes: 4.7 * GiB, budget_bytes: 5 * GiB, fraction_of_budget: 0.94, alert_fraction: 0.9 });
      // Raising the margin is what makes the planner plan smaller batches; lowering it would add memory.
      expect(alert.message).toMatch(/raise batching\.safetyMargin \(now 0\.05\)/);
      expect(alert.message).toMatch(/lower the batch cap batching\.maxBatch \(now 32\)/);
      expect(alert.message).not.toMatch(/lower (the )?(batching\.)?safetyMargin|lower the safety margin/i);
    });

    it("does not alert at exactly 90 % (the planner may legitimately fill budget × (1 − margin))", () => {
      expect(rules(recommend([worker(window(10, () => ({ modeledPeakBytes: 4.5 * GiB })))], NOW))).toEqual(["healthy"]);
    });

    it("warns when the mean of the last 10 samples is above 90 %, even when the latest one is lower (the seed's rule)", () => {
      const samples = window(12, (i) => ({ modeledPeakBytes: i < 2 ? 1 * GiB : i === 11 ? 4.4 * GiB : 4.7 * GiB }));
      const found = recommend([worker(samples)], NOW);
      expect(rules(found)).toEqual(["memory_sustained_high"]);
      expect(found[0].numbers.samples).toBe(10);
      expect(found[0].numbers.fraction_of_budget).toBeCloseTo((9 * 4.7 + 4.4) / 10 / 5, 3);
      expect(found[0].message).toMatch(/reduce the batch size/);
    });

    it("counts measured device memory (cuda) but never a host RSS against the device budget", () => {
      const device = window(3, () => ({ modeledPeakBytes: 3 * GiB, measuredBytes: 4.8 * GiB, measuredSource: "cuda" }));
      expect(rules(recommend([worker(device)], NOW))).toEqual(["memory_alert", "memory_sustained_high"]);
      const host = window(3, () => ({ modeledPeakBytes: 1 * GiB, measuredBytes: 30 * GiB, measuredSource: "process_rss" }));
      expect(rules(recommend([worker(host)], NOW))).toEqual(["healthy"]);
    });
  });

  describe("throughput", () => {
    it("with low memory use, blames decoding or preprocessing", () => {
      const found = recommend([worker(window(6, () => ({ audioSeconds: 1, busySeconds: 2, batchSizeMean: 1, modeledPeakBytes: 1 * GiB })))], NOW);
      expect(rules(found)).toEqual(["throughput_below_expected"]);
      expect(found[0].numbers).toMatchObject({ throughput: 0.5, expected_throughput: 1.2, batches: 12, mean_batch_size: 1, memory_fraction_of_budget: 0.2 });
      expect(found[0].message).toMatch(/decoding or audio preprocessing is the bottleneck/);
      expect(found[0].message).toMatch(/check audio preprocessing/);
    });

    it("with high memory use, points at the model configuration instead", () => {
      const found = recommend([worker(window(6, () => ({ audioSeconds: 1, busySeconds: 2, modeledPeakBytes: 3.5 * GiB })))], NOW);
      expect(rules(found)).toEqual(["throughput_below_expected"]);
      expect(found[0].message).toMatch(/batches are large yet slow — check the model configuration/);
    });

    it("is not judged on too few batches, nor on idle intervals", () => {
      expect(rules(recommend([worker([sample(0, { audioSeconds: 1, busySeconds: 5, batches: 2 })])], NOW))).toEqual(["healthy"]);
      const idle = window(10, (i) => (i < 9 ? { batches: 0, audioSeconds: 0, busySeconds: 0, modeledPeakBytes: null } : {}));
      expect(rules(recommend([worker(idle)], NOW))).toEqual(["healthy"]);
    });
  });

  describe("queue wait", () => {
    it("growing over the window advises more workers", () => {
      const found = recommend([worker(window(12, (i) => ({ queueWaitSecondsMean: 2 + i * 3 })))], NOW);
      expect(rules(found)).toEqual(["queue_wait_growing"]);
      expect(found[0].numbers).toMatchObject({ earlier_mean_seconds: 9.5, later_mean_seconds: 27.5, slope_seconds_per_minute: 36, points: 12, live_workers: 1 });
      expect(found[0].message).toMatch(/add workers/);
      expect(found[0].workerId).toBeUndefined();
    });

    it("merges the samples of every live worker in time order", () => {
      const a = worker(window(6, (i) => ({ queueWaitSecondsMean: 2 + i * 6 })), { workerId: "a" });
      const b = worker(window(6, (i) => ({ queueWaitSecondsMean: 3 + i * 6 })), { workerId: "b" });
      const [found] = recommend([a, b], NOW);
      expect(found).toMatchObject({ rule: "queue_wait_growing", numbers: { points: 12, live_workers: 2 } });
    });

    it("ignores small or shrinking waits", () => {
      expect(rules(recommend([worker(window(12, (i) => ({ queueWaitSecondsMean: 0.1 + i * 0.05 })))], NOW))).toEqual(["healthy"]);
      expect(rules(recommend([worker(window(12, (i) => ({ queueWaitSecondsMean: 60 - i * 5 })))], NOW))).toEqual(["healthy"]);
    });
  });

  describe("worker liveness", () => {
    it("flags a worker that stopped reporting without stopping, and no live worker at all as critical", () => {
      const silent = worker(window(3), { updatedAt: new Date(NOW.getTime() - 120_000) });
      const found = recommend([silent], NOW);
      expect(rules(found)).toEqual(["no_worker_reporting", "worker_silent"]);
      expect(found[1].numbers.seconds_since_heartbeat).toBe(120);
    });

    it("does not flag a worker that stopped on purpose, and judges only live workers' windows", () => {
      const stopped = worker(window(3, () => ({ modeledPeakBytes: 4.9 * GiB })), { workerId: "old", stoppedAt: NOW, updatedAt: NOW });
      const live = worker(window(3), { workerId: "new" });
      expect(rules(recommend([stopped, live], NOW))).toEqual(["healthy"]);
      expect(rules(recommend([], NOW))).toEqual(["no_worker_reporting"]);
    });
  });

  it("orders findings most severe first", () => {
    const samples = window(12, (i) => ({ modeledPeakBytes: 4.8 * GiB, queueWaitSecondsMean: 2 + i * 3 }));
    expect(recommend([worker(samples)], NOW).map((r) => r.severity)).toEqual(["critical", "warning", "warning"]);
  });
});
