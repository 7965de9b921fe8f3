import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Batcher, type ChunkOutcome, type ChunkWork } from "../../gpu-worker/batcher.js";
import type { MemoryProbe } from "../../gpu-worker/device-memory.js";
import type { Transcription, Utterance } from "../../gpu-worker/engine/engine.js";
import { MemoryFeedback, shapeOf, type Adjustment } from "../../gpu-worker/scheduler/memory-feedback.js";
import { estimateBatchBytes } from "../../gpu-worker/scheduler/memory-model.js";
import { plannerConfig, type PlannerConfig } from "../../gpu-worker/scheduler/planner.js";
import { silentLogger } from "../../shared/logger.js";
import { modelConfigSchema, type ModelConfig } from "../../shared/model-config.js";

const model: ModelConfig = modelConfigSchema.parse(JSON.parse(readFileSync(new URL("../fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")));
const GiB = 2 ** 30;

const transcription = (text: string): Transcription => ({
  language: "English",
  text,
  raw: text,
  generatedIds: [],
  stopReason: "eos",
  finishReason: "stop",
  tokenLogprobs: [],
  continuations: 0,
  avgLogprob: -0.1,
  noSpeechProb: 0,
  languageProb: null,
  tokens: { prompt: 0, audio: 0, generated: 1 },
  timings: { featuresMs: 0, encoderMs: 0, prefillMs: 0, decodeMs: 0, totalMs: 0 },
});

/** A stand-in engine (unit test only): records every batch it is given, by the ids of its items. */
class ScriptedEngine {
  lastBatch = { batchSize: 0, decodeSteps: 0, decoderRuns: 0, paddingWaste: 0 };
  readonly batches: string[][] = [];
  constructor(
    private readonly ids: Map<Float32Array, string>,
    private readonly failWhen: (size: number) => Error | null = () => null,
  ) {}
  async transcribe(utterances: Utterance[]): Promise<Transcription[]> {
    const ids = utterances.map((u) => this.ids.get(u.pcm) ?? "?");
    this.batches.push(ids);
    const failure = this.failWhen(utterances.length);
    if (failure) throw failure;
    this.lastBatch = { batchSize: utterances.length, decodeSteps: 1, decoderRuns: 1, paddingWaste: 0 };
    return ids.map((id) => transcription(id));
  }
}

function chunks(n: number, seconds = 30, jobs = n): { work: ChunkWork[]; ids: Map<Float32Array, string> } {
  const ids = new Map<Float32Array, string>();
  const work = Array.from({ length: n }, (_, i): ChunkWork => {
    const pcm = new Float32Array(16); // the planner reads `frames`; the engine here never looks at samples
    ids.set(pcm, `c${i}`);
    return { id: `c${i}`, jobId: `job-${i % jobs}`, chunkIndex: i, frames: seconds * 100, pcm, arrivalMs: 0 };
  });
  return { work, ids };
}

/** Runs the batcher until every item has an outcome; resolves the outcomes. */
async function runAll(
  planner: PlannerConfig,
  engine: ScriptedEngine,
  work: ChunkWork[],
  extra: { feedback?: MemoryFeedback; measureMemory?: MemoryProbe; adjustments?: Adjustment[] } = {},
): Promise<ChunkOutcome[]> {
  const outcomes: ChunkOutcome[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const batcher = new Batcher({
    engine,
    model,
    planner,
    logger: silentLogger,
    feedback: extra.feedback,
    measureMemory: extra.measureMemory,
    onAdjustments: (a) => extra.adjustments?.push(...a),
    onOutcomes: async (o) => {
      outcomes.push(...o);
      if (outcomes.length >= work.length) done();
    },
  });
  batcher.start();
  batcher.add(work);
  await finished;
  await batcher.stop();
  return outcomes;
}

const oom = () => new Error("Non-zero status code returned while running MatMul node. Status Message: bfc_arena.cc:359 Failed to allocate memory for requested buffer of size 268435456");

describe("Batcher under the memory feedback loop", () => {
  it("tightens when an injected probe reads above 90 % of the budget, and the next batches are smaller", async () => {
    const budgetBytes = 8 * GiB;
    const planner = plannerConfig(model, { budgetBytes, maxWaitMs: 60_000, maxBatch: 64 });
    const { work, ids } = chunks(100);
    const engine = new ScriptedEngine(ids);
    const feedback = new MemoryFeedback({ budgetBytes, marginStep: 0.05 });
    const adjustments: Adjustment[] = [];
    // The device reports 95 % of the budget after every batch.
    const outcomes = await runAll(planner, engine, work, { feedback, adjustments, measureMemory: async () => ({ bytes: 0.95 * budgetBytes, source: "cuda" }) });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(adjustments.some((a) => a.action === "margin_raised")).toBe(true);
    expect(feedback.plannerConfig(planner).safetyMargin).toBeGreaterThan(planner.safetyMargin);
    const [first, second, ...rest] = engine.batches.map((b) => b.length);
    expect(second).toBeLessThan(first);
    for (const size of rest) expect(size).toBeLessThanOrEqual(second);
  });

  it("leaves the plan alone when readings match the model and stay under 90 %", async () => {
    const budgetBytes = 8 * GiB;
    const planner = plannerConfig(model, { budgetBytes, maxWaitMs: 60_000, maxBatch: 4 });
    const { work, ids } = chunks(12);
    const engine = new ScriptedEngine(ids);
    const feedback = new MemoryFeedback({ budgetBytes });
    const adjustments: Adjustment[] = [];
    await runAll(planner, engine, work, { feedback, adjustments, measureMemory: async () => ({ bytes: 0.6 * budgetBytes, source: "cuda" }) });
    expect(adjustments.filter((a) => !a.action.startsWith("correction_"))).toEqual([]);
    expect(engine.batches.map((b) => b.length)).toEqual([4, 4, 4]);
  });

  it("splits a batch that runs out of memory, never runs the same plan twice, and remembers the shape", async () => {
    const planner = plannerConfig(model, { budgetBytes: 16 * GiB, maxWaitMs: 60_000, maxBatch: 8 });
    const { work, ids } = chunks(16);
    // The device holds at most 3 of these chunks at once, whatever the model says.
    const engine = new ScriptedEngine(ids, (size) => (size > 3 ? oom() : null));
    const feedback = new MemoryFeedback({ budgetBytes: planner.budgetBytes });
    const adjustments: Adjustment[] = [];
    const outcomes = await runAll(planner, engine, work, { feedback, adjustments });
    expect(outcomes).toHaveLength(16);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const plans = engine.batches.map((b) => [...b].sort().join(","));
    expect(new Set(plans).size).toBe(plans.length);
    expect(adjustments.map((a) => a.action)).toContain("unsafe_shape");
    // After the first failure no batch of 8 was planned again.
    expect(engine.batches.filter((b) => b.length === 8)).toHaveLength(1);
    const eight = estimateBatchBytes(model, { weights: planner.weightsDtype, io: planner.ioDtype }, Array.from({ length: 8 }, () => ({ frames: 3000 })), { calibration: planner.calibration });
    expect(feedback.isUnsafe(shapeOf(eight))).toBe(true);
  });

  it("fails the job of a single chunk that runs out of memory alone, with a clear error", async () => {
    const planner = plannerConfig(model, { budgetBytes: 16 * GiB, maxWaitMs: 60_000, maxBatch: 2 });
    const { work, ids } = chunks(2);
    const engine = new ScriptedEngine(ids, () => oom());
    const outcomes = await runAll(planner, engine, work);
    expect(outcomes).toHaveLength(2);
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(false);
      if (outcome.ok) continue;
      expect(outcome.permanent).toBe(true);
      expect(outcome.code).toBe("out_of_memory");
      expect(outcome.message).toMatch(/ran out of memory even alone/);
      expect(outcome.message).toMatch(/budget/);
    }
    // The pair ran once, then each chunk once alone: three plans, none repeated.
    expect(engine.batches.map((b) => b.length)).toEqual([2, 1, 1]);
  });

  it("hands a batch back for retry, unsplit, when it fails for another reason", async () => {
    const planner = plannerConfig(model, { budgetBytes: 16 * GiB, maxWaitMs: 60_000, maxBatch: 4 });
    const { work, ids } = chunks(4);
    const engine = new ScriptedEngine(ids, () => new Error("device lost"));
    const outcomes = await runAll(planner, engine, work);
    expect(outcomes.map((o) => (o.ok ? "ok" : `${o.permanent}:${o.code}`))).toEqual(Array(4).fill("false:engine_error"));
    expect(engine.batches).toHaveLength(1);
  });
});
