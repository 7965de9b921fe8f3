import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { modelConfigSchema, type ModelConfig } from "../../shared/model-config.js";
import { estimateBatchBytes } from "../../gpu-worker/scheduler/memory-model.js";
import { planNextBatch, plannerConfig, type PlannerConfig, type WorkItem } from "../../gpu-worker/scheduler/planner.js";

const model: ModelConfig = modelConfigSchema.parse(
  JSON.parse(readFileSync(new URL("../fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")),
);
const GiB = 2 ** 30;
const dtypes = { weights: "bfloat16", io: "float16" } as const;

// Mostly chunks of ≤ 30 s, sometimes a whole 2–20 min file that a small budget cannot hold.
const frames = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 3000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 12_000, max: 120_000 }) },
);
const rawItem = fc.record({
  frames,
  inSeconds: fc.boolean(),
  jobId: fc.constantFrom("a", "b", "c", "d"),
  arrivalMs: fc.integer({ min: 0, max: 120_000 }),
  maxNewTokens: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined, freq: 4 }),
  forcedLanguage: fc.constantFrom(undefined, undefined, undefined, "English"),
});
const queueArb = fc.array(rawItem, { minLength: 0, maxLength: 40 }).map((raws) =>
  raws.map(({ frames: f, inSeconds, ...rest }, i): WorkItem => {
    const base = { ...rest, id: `i${i}` };
    return inSeconds ? { ...base, durationSeconds: f / 100 } : { ...base, frames: f };
  }),
);
const configArb: fc.Arbitrary<PlannerConfig> = fc
  .record({
    budgetBytes: fc.integer({ min: Math.round(4.3 * GiB), max: 12 * GiB }),
    safetyMargin: fc.double({ min: 0, max: 0.3, noNaN: true }),
    maxWaitMs: fc.integer({ min: 0, max: 60_000 }),
    maxBatch: fc.integer({ min: 1, max: 24 }),
    maxEncoderSlicesPerCall: fc.integer({ min: 1, max: 8 }),
  })
  .map((overrides) => plannerConfig(model, overrides));

const framesOf = (i: WorkItem): number => i.frames ?? Math.ceil((i.durationSeconds ?? 0) * 100);
/** A stand-in engine: a fixed cost plus time for the longest row, never more than MAX_BATCH_MS. */
const MAX_BATCH_MS = 320;
const batchMs = (batch: readonly WorkItem[]): number => 20 + Math.max(0, ...batch.map(framesOf)) / 10;

describe("planner properties", () => {
  it("never returns a batch over the modelled limit, and never throws", () => {
    fc.assert(
      fc.property(queueArb, configArb, fc.integer({ min: 0, max: 200_000 }), (queue, config, now) => {
        const plan = planNextBatch(model, queue, now, config);
        expect(plan.limitBytes).toBe(Math.floor(config.budgetBytes * (1 - config.safetyMargin)));
        expect(plan.batch.length).toBeLessThanOrEqual(config.maxBatch);
        if (plan.breakdown !== null) expect(plan.breakdown.total).toBeLessThanOrEqual(plan.limitBytes);
        const shapes = plan.batch.map((i) => ({ frames: framesOf(i), maxNewTokens: i.maxNewTokens, forcedLanguage: i.forcedLanguage }));
        const independent = estimateBatchBytes(model, dtypes, shapes, {
          encoderSlicesPerCall: plan.encoderSlicesPerCall,
          calibration: config.calibration,
        });
        if (plan.batch.length > 0) expect(independent.total).toBeLessThanOrEqual(plan.limitBytes);
        // Rejected for size means: too big even alone, with the worker's encoder packing.
        for (const { item, reason } of plan.rejected) {
          expect(reason.length).toBeGreaterThan(20);
          const alone = estimateBatchBytes(model, dtypes, [{ frames: framesOf(item), maxNewTokens: item.maxNewTokens, forcedLanguage: item.forcedLanguage }], {
            encoderSlicesPerCall: config.maxEncoderSlicesPerCall,
            calibration: config.calibration,
          });
          expect(alone.total).toBeGreaterThan(plan.limitBytes);
        }
        // Work-conserving: something runs whenever something can.
        expect(plan.batch.length === 0).toBe(plan.rejected.length === queue.length);
      }),
    );
  });

  it("schedules every item exactly once while the queue drains", () => {
    fc.assert(
      fc.property(queueArb, configArb, (items, config) => {
        const arrivals = [...items].sort((a, b) => a.arrivalMs - b.arrivalMs);
        const seen = new Map<string, "batch" | "rejected">();
        let queue: WorkItem[] = [];
        let now = 0;
        let next = 0;
        for (let calls = 0; next < arrivals.length || queue.length > 0; calls++) {
          expect(calls).toBeLessThanOrEqual(2 * items.length);
          while (next < arrivals.length && arrivals[next]!.arrivalMs <= now) queue.push(arrivals[next++]!);
          if (queue.length === 0) {
            now = arrivals[next]!.arrivalMs;
            continue;
          }
          const plan = planNextBatch(model, queue, now, config);
          for (const i of plan.batch) {
            expect(seen.has(i.id)).toBe(false);
            seen.set(i.id, "batch");
          }
          for (const { item } of plan.rejected) {
            expect(seen.has(item.id)).toBe(false);
            seen.set(item.id, "rejected");
          }
          const done = new Set([...plan.batch, ...plan.rejected.map((r) => r.item)]);
          expect(done.size).toBeGreaterThan(0);
          queue = queue.filter((i) => !done.has(i));
          now += plan.batch.length > 0 ? batchMs(plan.batch) : 0;
        }
        expect(seen.size).toBe(items.length);
      }),
    );
  });

  it("keeps the oldest runnable item in the batch, and overdue items ahead of everything else", () => {
    fc.assert(
      fc.property(queueArb, configArb, fc.integer({ min: 0, max: 200_000 }), (queue, config, now) => {
        const plan = planNextBatch(model, queue, now, config);
        const rejected = new Set(plan.rejected.map((r) => r.item));
        const runnable = queue.filter((i) => !rejected.has(i));
        if (runnable.length === 0) return;
        const oldest = runnable.reduce((a, b) => (b.arrivalMs < a.arrivalMs || (b.arrivalMs === a.arrivalMs && b.id < a.id) ? b : a));
        expect(plan.batch).toContain(oldest);
        const inBatch = new Set(plan.batch);
        const overdue = (i: WorkItem): boolean => now - i.arrivalMs >= config.maxWaitMs;
        for (const left of runnable.filter((i) => overdue(i) && !inBatch.has(i))) {
          // An overdue item is left out only when the batch is already full of older overdue items.
          for (const taken of plan.batch) {
            expect(overdue(taken)).toBe(true);
            expect(taken.arrivalMs).toBeLessThanOrEqual(left.arrivalMs);
          }
        }
      }),
    );
  });

  it("does not depend on the order of the queue", () => {
    fc.assert(
      fc.property(
        queueArb.chain((q) => fc.tuple(fc.constant(q), fc.shuffledSubarray(q, { minLength: q.length, maxLength: q.length }))),
        configArb,
        fc.integer({ min: 0, max: 200_000 }),
        ([queue, shuffled], config, now) => {
          const a = planNextBatch(model, queue, now, config);
          const b = planNextBatch(model, shuffled, now, config);
          expect(b.batch.map((i) => i.id)).toEqual(a.batch.map((i) => i.id));
          expect(b.rejected.map((r) => r.item.id).sort()).toEqual(a.rejected.map((r) => r.item.id).sort());
          expect(b.encoderSlicesPerCall).toBe(a.encoderSlicesPerCall);
        },
      ),
    );
  });

  it("under a feasible load, no item waits past maxWaitMs + one batch time", () => {
    // Feasible: items of ≤ 10 s, and never more arrivals within one batch time than a batch can hold.
    const scenario = fc
      .record({
        config: configArb,
        sizes: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 60 }),
        gaps: fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 60, maxLength: 60 }),
      })
      .filter(({ config }) => capacity(config) >= 1);
    fc.assert(
      fc.property(scenario, ({ config, sizes, gaps }) => {
        const k = capacity(config);
        const arrivals: number[] = [];
        sizes.forEach((_, i) => {
          let t = (arrivals[i - 1] ?? 0) + (gaps[i] ?? 0);
          const windowStart = arrivals[i - k];
          if (windowStart !== undefined) t = Math.max(t, windowStart + MAX_BATCH_MS + 1);
          arrivals.push(t);
        });
        const items: WorkItem[] = sizes.map((f, i) => ({ id: `i${i}`, jobId: "j", frames: f, arrivalMs: arrivals[i]! }));
        let queue: WorkItem[] = [];
        let now = 0;
        let next = 0;
        while (next < items.length || queue.length > 0) {
          while (next < items.length && items[next]!.arrivalMs <= now) queue.push(items[next++]!);
          if (queue.length === 0) {
            now = items[next]!.arrivalMs;
            continue;
          }
          const plan = planNextBatch(model, queue, now, config);
          expect(plan.rejected).toEqual([]);
          for (const i of plan.batch) expect(now - i.arrivalMs).toBeLessThanOrEqual(config.maxWaitMs + MAX_BATCH_MS);
          const taken = new Set(plan.batch);
          queue = queue.filter((i) => !taken.has(i));
          now += batchMs(plan.batch);
        }
      }),
    );
  });
});

/** How many worst-case feasible-load items (10 s, default generation bound) always fit in one batch. */
function capacity(config: PlannerConfig): number {
  const limit = Math.floor(config.budgetBytes * (1 - config.safetyMargin));
  let k = 0;
  while (
    k < config.maxBatch &&
    estimateBatchBytes(model, dtypes, Array.from({ length: k + 1 }, () => ({ frames: 1000 })), {
      encoderSlicesPerCall: config.maxEncoderSlicesPerCall,
      calibration: config.calibration,
    }).total <= limit
  ) {
    k++;
  }
  return k;
}
