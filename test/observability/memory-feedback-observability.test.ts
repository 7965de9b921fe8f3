import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Db } from "../../db/client.js";
import { workerSeries } from "../../edge/observability/series.js";
import type { BatchReport } from "../../gpu-worker/batcher.js";
import { WorkerObservability } from "../../gpu-worker/observability.js";
import { fragmentationOf, SampleWindow } from "../../gpu-worker/sample-window.js";
import { MemoryFeedback } from "../../gpu-worker/scheduler/memory-feedback.js";
import { estimateBatchBytes } from "../../gpu-worker/scheduler/memory-model.js";
import { plannerConfig } from "../../gpu-worker/scheduler/planner.js";
import { parseServiceConfig } from "../../shared/config.js";
import { createLogger } from "../../shared/logger.js";
import { modelConfigSchema } from "../../shared/model-config.js";
import { recommend } from "../../shared/recommendations.js";
import type { WorkerReport, WorkerSample } from "../../shared/worker-sample.js";

const model = modelConfigSchema.parse(JSON.parse(readFileSync(new URL("../fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")));
const GiB = 2 ** 30;
const planner = plannerConfig(model, { budgetBytes: 5 * GiB });
const breakdown = estimateBatchBytes(model, { weights: planner.weightsDtype, io: planner.ioDtype }, [{ frames: 3000 }, { frames: 3000 }], { calibration: planner.calibration });
const report = (measuredBytes?: number, source: "cuda" | "process_rss" = "cuda"): BatchReport => ({
  size: 2,
  modeled: breakdown,
  durationMs: 100,
  audioSeconds: 60,
  paddingWaste: 0,
  ...(measuredBytes === undefined ? {} : { measured: { bytes: measuredBytes, source } }),
});

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  if (!line) throw new Error(`no ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe("the feedback loop's changes are seen", () => {
  it("as metrics, log lines and a count in the sample, with the planner settings they leave", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({}, { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const config = parseServiceConfig({});
    const observability = new WorkerObservability({ db: {} as Db, logger, config, planner, measureMemory: async () => null });
    const feedback = new MemoryFeedback({ budgetBytes: planner.budgetBytes });
    observability.observeFeedback(feedback);
    const onAdjustments = observability.onAdjustments();
    onAdjustments(feedback.observe(breakdown, 0.95 * planner.budgetBytes, 32));
    observability.onBatch()(report(0.95 * planner.budgetBytes));

    const text = await observability.metrics.registry.metrics();
    expect(value(text, 'asr_worker_memory_adjustments_total{action="margin_raised"}')).toBe(1);
    expect(value(text, 'asr_worker_memory_adjustments_total{action="correction_raised"}')).toBe(1);
    expect(value(text, "asr_worker_memory_feedback_safety_margin_ratio")).toBeCloseTo(planner.safetyMargin + 0.02, 6);
    expect(value(text, "asr_worker_memory_feedback_max_batch")).toBe(planner.maxBatch);
    expect(value(text, "asr_worker_memory_feedback_correction_ratio")).toBeGreaterThan(1);
    expect(value(text, "asr_worker_memory_reserved_bytes")).toBe(0.95 * planner.budgetBytes);
    expect(value(text, "asr_worker_memory_fragmentation_ratio")).toBeCloseTo(1 - breakdown.total / (0.95 * planner.budgetBytes), 6);

    const logged = lines.find((l) => l.msg === "memory feedback: margin raised");
    expect(logged).toMatchObject({ level: "warn", action: "margin_raised", safetyMargin: planner.safetyMargin + 0.02 });
    expect(String(logged?.reason)).toMatch(/above 90\.0 %/);

    const sample = observability.window.close(new Date(), { activeJobs: 0, queuedChunks: 0 }, null);
    expect(sample.memoryAdjustments).toBe(2);
    expect(sample.fragmentation).toBeCloseTo(1 - breakdown.total / (0.95 * planner.budgetBytes), 6);
  });

  it("as fragmentation only where a reading exists, never below zero", () => {
    expect(fragmentationOf(report())).toBeNull();
    expect(fragmentationOf(report(breakdown.total / 2))).toBe(0);
    const window = new SampleWindow();
    window.recordBatch(report(breakdown.total * 1.25));
    window.recordBatch(report(breakdown.total * 1.05));
    expect(window.close(new Date(), { activeJobs: 0, queuedChunks: 0 }, null).fragmentation).toBeCloseTo(0.2, 6);
  });
});

const sample = (at: string, over: Partial<WorkerSample> = {}): WorkerSample => ({
  at,
  intervalSeconds: 5,
  batches: 1,
  batchSizeMean: 2,
  batchSizeMax: 2,
  audioSeconds: 60,
  busySeconds: 1,
  paddingWasteMean: 0,
  modeledPeakBytes: 3 * GiB,
  measuredBytes: 3.5 * GiB,
  measuredSource: "cuda",
  jobsCompleted: 1,
  jobsFailed: 0,
  queueWaitSecondsMean: 1,
  queueWaitSecondsMax: 1,
  processingSecondsMean: 1,
  activeJobs: 0,
  queuedChunks: 0,
  ...over,
});
const worker = (samples: WorkerSample[]): WorkerReport => ({
  workerId: "w1",
  hostname: "h",
  executionProvider: "cuda",
  budgetBytes: 5 * GiB,
  safetyMargin: 0.05,
  maxBatch: 32,
  updatedAt: new Date(Date.parse(samples.at(-1)?.at ?? "2026-01-01T00:00:00Z")),
  stoppedAt: null,
  samples,
});

describe("the dashboard and the recommendations", () => {
  it("mark the memory chart where the loop changed something, at the measured memory", () => {
    const now = new Date("2026-01-01T00:00:20Z");
    const series = workerSeries(
      [worker([sample("2026-01-01T00:00:05Z"), sample("2026-01-01T00:00:10Z", { memoryAdjustments: 2, measuredBytes: 4.7 * GiB }), sample("2026-01-01T00:00:15Z", { memoryAdjustments: 0 })])],
      now,
    );
    expect(series.memory_adjustments).toEqual([null, 4.7 * GiB, null]);
  });

  it("recommend what the loop cannot act on, and name fragmentation above the seed's threshold", () => {
    const now = new Date("2026-01-01T00:00:06Z");
    const quiet = recommend([worker([sample("2026-01-01T00:00:05Z", { fragmentation: 0.05, memoryLimits: [] })])], now);
    expect(quiet.map((r) => r.rule)).toEqual(["healthy"]);
    const found = recommend([worker([sample("2026-01-01T00:00:05Z", { fragmentation: 0.3, memoryLimits: ["measured memory beyond the weights is 2.10× the memory model's prediction"] })])], now);
    expect(found.map((r) => r.rule).sort()).toEqual(["memory_feedback_limit", "memory_fragmentation"]);
    expect(found.find((r) => r.rule === "memory_fragmentation")?.numbers).toEqual({ fragmentation: 0.3, fragmentation_threshold: 0.1 });
    expect(found.find((r) => r.rule === "memory_feedback_limit")?.message).toMatch(/2\.10×/);
  });
});
