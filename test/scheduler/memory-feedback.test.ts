import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isOutOfMemoryError } from "../../gpu-worker/out-of-memory.js";
import { correctedBytes, MemoryFeedback, planWithFeedback, shapeKey, shapeOf } from "../../gpu-worker/scheduler/memory-feedback.js";
import { estimateBatchBytes, type MemoryBreakdown } from "../../gpu-worker/scheduler/memory-model.js";
import { planNextBatch, plannerConfig, type WorkItem } from "../../gpu-worker/scheduler/planner.js";
import { modelConfigSchema, type ModelConfig } from "../../shared/model-config.js";

const model: ModelConfig = modelConfigSchema.parse(JSON.parse(readFileSync(new URL("../fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")));
const GiB = 2 ** 30;
const budgetBytes = 5 * GiB;
const base = plannerConfig(model, { budgetBytes, maxWaitMs: 60_000 });
const dtypes = { weights: base.weightsDtype, io: base.ioDtype };

const item = (id: string, seconds: number, arrivalMs = 0): WorkItem => ({ id, jobId: `job-${id}`, frames: Math.round(seconds * 100), arrivalMs });
const queueOf = (n: number, seconds = 30): WorkItem[] => Array.from({ length: n }, (_, i) => item(`c${i}`, seconds, i));
/** What a batch measures when the model misses `factor` − 1 of everything but the weights. */
const measuredAt = (b: MemoryBreakdown, factor: number): number => correctedBytes(b, factor);
const breakdownOf = (n: number, seconds = 30): MemoryBreakdown =>
  estimateBatchBytes(model, dtypes, Array.from({ length: n }, () => ({ frames: seconds * 100 })), { calibration: base.calibration });

describe("MemoryFeedback: the 90 % rule", () => {
  it("raises the margin when a reading passes 90 % of the budget, and lowers the largest batch once the margin is at its ceiling", () => {
    const loop = new MemoryFeedback({ budgetBytes, marginStep: 0.05, maxExtraMargin: 0.1 });
    const batch = breakdownOf(8);
    const over = 0.93 * budgetBytes;
    const first = loop.observe(batch, over, 32);
    expect(first.map((a) => a.action)).toContain("margin_raised");
    expect(loop.plannerConfig(base).safetyMargin).toBeCloseTo(0.1);
    loop.observe(batch, over, 32);
    expect(loop.plannerConfig(base).safetyMargin).toBeCloseTo(0.15);
    // The margin is at its ceiling (0.1 on top of the configured 0.05): now the batch comes down.
    const third = loop.observe(batch, over, 32);
    expect(third.map((a) => a.action)).toContain("max_batch_lowered");
    expect(loop.plannerConfig(base).maxBatch).toBe(7);
    expect(loop.plannerConfig(base).safetyMargin).toBeCloseTo(0.15);
  });

  it("does not ratchet on a single chunk above 90 %: no margin helps it, so it is left to a person", () => {
    const loop = new MemoryFeedback({ budgetBytes });
    const one = breakdownOf(1);
    for (let i = 0; i < 10; i++) expect(loop.observe(one, 0.93 * budgetBytes, 32).filter((a) => !a.action.startsWith("correction_"))).toEqual([]);
    expect(loop.plannerConfig(base).safetyMargin).toBe(base.safetyMargin);
    expect(loop.state.limits.map((l) => l.rule)).toContain("single_chunk_above_alert");
  });

  it("lets a limit lapse once it has not been seen for relaxAfterBatches batches", () => {
    const loop = new MemoryFeedback({ budgetBytes, relaxAfterBatches: 5 });
    const one = breakdownOf(1);
    loop.observe(one, 0.93 * budgetBytes, 32);
    for (let i = 0; i < 4; i++) loop.observe(one, 0.85 * budgetBytes, 32);
    expect(loop.state.limits.map((l) => l.rule)).toEqual(["single_chunk_above_alert"]);
    loop.observe(one, 0.85 * budgetBytes, 32);
    expect(loop.state.limits).toEqual([]);
  });

  it("leaves everything alone while readings stay between the relax and tighten levels", () => {
    const big = 16 * GiB; // a budget the 4 × 30 s batch fills to 30 %
    const loop = new MemoryFeedback({ budgetBytes: big });
    const batch = breakdownOf(4);
    for (let i = 0; i < 200; i++) loop.observe(batch, Math.max(batch.total, 0.85 * big), 32);
    expect(loop.plannerConfig(base).safetyMargin).toBe(base.safetyMargin);
    expect(loop.plannerConfig(base).maxBatch).toBe(base.maxBatch);
  });

  it("relaxes one step at a time after a run of quiet batches, the batch cap before the margin", () => {
    const big = 16 * GiB;
    const loop = new MemoryFeedback({ budgetBytes: big, marginStep: 0.05, maxExtraMargin: 0.05, relaxAfterBatches: 3 });
    const batch = breakdownOf(4);
    loop.observe(batch, 0.95 * big, 32); // margin +0.05
    loop.observe(batch, 0.95 * big, 32); // cap → 3
    expect(loop.plannerConfig(base)).toMatchObject({ maxBatch: 3, safetyMargin: 0.1 });
    const quiet = batch.total; // well under 80 % of 16 GiB
    expect(quiet).toBeLessThan(0.8 * big);
    const settingsChanges = (adjustments: { action: string }[]) => adjustments.map((a) => a.action).filter((a) => !a.startsWith("correction_"));
    expect(settingsChanges(loop.observe(batch, quiet, 3))).toEqual([]);
    expect(settingsChanges(loop.observe(batch, quiet, 3))).toEqual([]);
    expect(settingsChanges(loop.observe(batch, quiet, 3))).toEqual(["max_batch_raised"]);
    expect(loop.plannerConfig(base).maxBatch).toBe(4);
  });
});

describe("MemoryFeedback: per-shape correction", () => {
  it("corrects a shape at once to its measured ratio, bounded by maxCorrection, and never below 1", () => {
    const loop = new MemoryFeedback({ budgetBytes, maxCorrection: 1.5 });
    const b = breakdownOf(2);
    const [raised] = loop.observe(b, measuredAt(b, 1.2), 32);
    expect(raised).toMatchObject({ action: "correction_raised", shape: shapeKey(shapeOf(b)) });
    expect(loop.correctionFor(shapeOf(b))).toBeCloseTo(1.2, 3);
    const c = breakdownOf(3);
    loop.observe(c, measuredAt(c, 3), 32);
    expect(loop.correctionFor(shapeOf(c))).toBe(1.5);
    expect(loop.state.limits.map((l) => l.rule)).toContain("correction_at_cap");
    const d = breakdownOf(5);
    loop.observe(d, measuredAt(d, 0.5) + 1, 32); // the model overestimates; the reading rose, so it is attributable
    expect(loop.correctionFor(shapeOf(d))).toBe(1);
  });

  it("lowers a correction only slowly when readings fall", () => {
    const loop = new MemoryFeedback({ budgetBytes, correctionDecay: 0.1 });
    const b = breakdownOf(2);
    loop.observe(b, measuredAt(b, 1.3), 32);
    loop.observe(b, measuredAt(b, 1.0), 32);
    const after = loop.correctionFor(shapeOf(b));
    expect(after).toBeLessThan(1.3);
    expect(after).toBeGreaterThan(1.25);
  });

  it("uses the largest correction seen for a shape never measured", () => {
    const loop = new MemoryFeedback({ budgetBytes });
    const b = breakdownOf(2);
    loop.observe(b, measuredAt(b, 1.25), 32);
    expect(loop.correctionFor({ batchSize: 9, paddedSequenceTokens: 4000 })).toBeCloseTo(1.25, 3);
  });

  it("does not blame a small batch for an arena high-water mark a larger batch left", () => {
    const loop = new MemoryFeedback({ budgetBytes });
    const large = breakdownOf(8);
    const small = breakdownOf(1);
    loop.observe(large, large.total, 32);
    loop.observe(small, large.total, 32); // the same reading: the arena kept the large batch's peak
    expect(loop.correctionFor(shapeOf(small))).toBe(1);
  });
});

describe("planWithFeedback", () => {
  it("plans the same batch as the planner while the loop has learnt nothing", () => {
    const queue = queueOf(20);
    const loop = new MemoryFeedback({ budgetBytes });
    expect(planWithFeedback(model, queue, 0, base, loop).batch).toEqual(planNextBatch(model, queue, 0, base).batch);
  });

  it("after a 20 % underestimate, plans batches whose corrected prediction fits the limit", () => {
    const queue = queueOf(30);
    const loop = new MemoryFeedback({ budgetBytes });
    const plain = planNextBatch(model, queue, 0, base);
    const b = plain.breakdown as MemoryBreakdown;
    expect(measuredAt(b, 1.2)).toBeGreaterThan(plain.limitBytes); // without the loop this batch passes the limit
    loop.observe(b, measuredAt(b, 1.2), base.maxBatch);
    const plan = planWithFeedback(model, queue, 0, base, loop);
    expect(plan.batch.length).toBeLessThan(plain.batch.length);
    expect(measuredAt(plan.breakdown as MemoryBreakdown, 1.2)).toBeLessThanOrEqual(plan.limitBytes);
  });

  it("never plans a batch as large as one that ran out of memory", () => {
    const queue = queueOf(30);
    const loop = new MemoryFeedback({ budgetBytes });
    const first = planWithFeedback(model, queue, 0, base, loop);
    loop.onOutOfMemory(first.breakdown as MemoryBreakdown, base.maxBatch);
    const second = planWithFeedback(model, queue, 0, base, loop);
    expect(second.batch.length).toBeLessThan(first.batch.length);
    expect(loop.isUnsafe(shapeOf(second.breakdown as MemoryBreakdown))).toBe(false);
  });

  it("never rejects an item that fits the configured settings, however far the loop has tightened", () => {
    // An item that fits only under the configured 5 % margin.
    let seconds = 30;
    const fitsBase = (s: number) => planNextBatch(model, [item("x", s)], 0, base).rejected.length === 0;
    const tight = plannerConfig(model, { budgetBytes, safetyMargin: 0.35 });
    while (!(fitsBase(seconds) && planNextBatch(model, [item("x", seconds)], 0, tight).rejected.length > 0)) seconds += 30;
    const loop = new MemoryFeedback({ budgetBytes, marginStep: 0.1, maxExtraMargin: 0.3 });
    for (let i = 0; i < 3; i++) loop.observe(breakdownOf(2), 0.99 * budgetBytes, 2);
    expect(loop.plannerConfig(base).safetyMargin).toBeCloseTo(0.35);
    const plan = planWithFeedback(model, [item("long", seconds)], 0, base, loop);
    expect(plan.rejected).toEqual([]);
    expect(plan.batch.map((i) => i.id)).toEqual(["long"]);
  });

  it("still rejects an item that cannot run even under the configured settings", () => {
    const loop = new MemoryFeedback({ budgetBytes });
    loop.observe(breakdownOf(2), 0.99 * budgetBytes, 2);
    expect(loop.plannerConfig(base).safetyMargin).toBeGreaterThan(base.safetyMargin);
    const plan = planWithFeedback(model, [item("huge", 3600), item("ok", 10, 1)], 0, base, loop);
    expect(plan.rejected.map((r) => r.item.id)).toEqual(["huge"]);
    expect(plan.batch.map((i) => i.id)).toEqual(["ok"]);
  });
});

describe("MemoryFeedback: out of memory", () => {
  it("remembers the shape, tightens, and keeps only the smallest unsafe shapes", () => {
    const loop = new MemoryFeedback({ budgetBytes });
    const eight = breakdownOf(8);
    const actions = loop.onOutOfMemory(eight, 32).map((a) => a.action);
    expect(actions).toEqual(["unsafe_shape", "margin_raised"]);
    expect(loop.isUnsafe(shapeOf(breakdownOf(9)))).toBe(true);
    expect(loop.isUnsafe(shapeOf(breakdownOf(7)))).toBe(false);
    loop.onOutOfMemory(breakdownOf(6), 32);
    expect(loop.state.unsafe).toHaveLength(1);
    expect(loop.isUnsafe(shapeOf(breakdownOf(7)))).toBe(true);
  });

  it("refuses settings that make no sense", () => {
    expect(() => new MemoryFeedback({ budgetBytes: 0 })).toThrow(/budgetBytes/);
    expect(() => new MemoryFeedback({ budgetBytes, relaxBelow: 0.95 })).toThrow(/relaxBelow/);
    expect(() => new MemoryFeedback({ budgetBytes, maxCorrection: 0.9 })).toThrow(/maxCorrection/);
  });
});

describe("isOutOfMemoryError", () => {
  it("recognises onnxruntime's allocation failures and nothing else", () => {
    for (const message of [
      "Non-zero status code returned while running MatMul node. Name:'/MatMul' Status Message: /onnxruntime/core/framework/bfc_arena.cc:359 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 1073741824",
      "CUDA failure 2: out of memory ; GPU=0 ; hostname=x",
      "std::bad_alloc",
      "Available memory of 0 is smaller than requested bytes of 4096",
    ]) expect(isOutOfMemoryError(new Error(message))).toBe(true);
    expect(isOutOfMemoryError(new Error("input 'attn_bias' has the wrong shape"))).toBe(false);
    expect(isOutOfMemoryError(null)).toBe(false);
  });
});
