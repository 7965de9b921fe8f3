import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Batcher, type BatchReport, type ChunkOutcome, type ChunkWork } from "../../gpu-worker/batcher.js";
import { processRssProbe } from "../../gpu-worker/device-memory.js";
import { Qwen3AsrEngine } from "../../gpu-worker/engine/engine.js";
import { defaultCalibration } from "../../gpu-worker/scheduler/calibration.js";
import { MemoryFeedback, type Adjustment } from "../../gpu-worker/scheduler/memory-feedback.js";
import { estimateBatchBytes } from "../../gpu-worker/scheduler/memory-model.js";
import { plannerConfig } from "../../gpu-worker/scheduler/planner.js";
import { silentLogger } from "../../shared/logger.js";
import { readPcm16Wav } from "../support/wav.js";

// The shipped demo model on the CPU provider, where the budget counts the process's RSS.
const MODEL_DIR = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const speech = readPcm16Wav(new URL("../fixtures/audio/speech.wav", import.meta.url));

describe("memory feedback loop on real RSS readings (CPU provider, demo model)", () => {
  let engine: Qwen3AsrEngine;
  beforeAll(async () => {
    engine = await Qwen3AsrEngine.load(MODEL_DIR, { intraOpThreads: 1 });
  }, 60_000);
  afterAll(() => engine?.close());

  it("reads the process RSS after every batch, corrects a model that misses the runtime, and tightens above 90 % of the budget", async () => {
    // A memory model that counts only the model's tensors (no runtime reserve): the Node process itself, which
    // RSS includes, is what it misses, as an uncalibrated model on a new device would.
    const calibration = { ...defaultCalibration, runtimeReserveBytes: 0 };
    const base = plannerConfig(engine.config, { calibration, maxWaitMs: 60_000, maxBatch: 4 });
    const dtypes = { weights: base.weightsDtype, io: base.ioDtype };
    const frames = Math.floor(speech.length / engine.config.hop_length);
    const alone = estimateBatchBytes(engine.config, dtypes, [{ frames }], { calibration }).total;
    // A budget just under this process's RSS: every reading passes its 90 % line, yet the model plans batches.
    const rssNow = process.memoryUsage.rss();
    const budgetBytes = Math.floor(rssNow * 0.95);
    expect(alone * 4, "four clips must fit the budget by the model's count").toBeLessThan(budgetBytes * (1 - base.safetyMargin));
    const planner = { ...base, budgetBytes };

    const feedback = new MemoryFeedback({ budgetBytes, marginStep: 0.05 });
    const adjustments: Adjustment[] = [];
    const reports: BatchReport[] = [];
    const outcomes: ChunkOutcome[] = [];
    const work: ChunkWork[] = Array.from({ length: 6 }, (_, i) => ({ id: `c${i}`, jobId: `j${i}`, chunkIndex: 0, frames, pcm: speech, arrivalMs: i }));
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const batcher = new Batcher({
      engine,
      model: engine.config,
      planner,
      logger: silentLogger,
      feedback,
      measureMemory: processRssProbe,
      onAdjustments: (a) => adjustments.push(...a),
      onBatch: (r) => reports.push(r),
      onOutcomes: async (o) => {
        outcomes.push(...o);
        if (outcomes.length >= work.length) done();
      },
    });
    batcher.start();
    batcher.add(work);
    await finished;
    await batcher.stop();

    expect(outcomes.every((o) => o.ok)).toBe(true);
    // Every batch carries a real RSS reading, taken after it ran.
    expect(reports.length).toBeGreaterThan(0);
    for (const r of reports) {
      expect(r.measured?.source).toBe("process_rss");
      expect(r.measured?.bytes).toBeGreaterThan(0.9 * budgetBytes);
    }
    expect(adjustments.map((a) => a.action)).toContain("margin_raised");
    expect(feedback.plannerConfig(planner).safetyMargin).toBeGreaterThan(planner.safetyMargin);
    const raised = adjustments.find((a) => a.action === "margin_raised");
    expect(raised?.measuredBytes).toBe(reports[0].measured?.bytes);
    // The reading is far above the model's count: the correction is raised to its cap and the rest is left to a person.
    expect(adjustments.find((a) => a.action === "correction_raised")?.correction).toBe(feedback.settings.maxCorrection);
    expect(feedback.state.limits.map((l) => l.rule)).toContain("correction_at_cap");
  }, 120_000);
});
