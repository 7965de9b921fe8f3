import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { modelConfigSchema, type ModelConfig } from "../../shared/model-config.js";
import { estimateBatchBytes } from "../../gpu-worker/scheduler/memory-model.js";
import {
  DEFAULT_BUDGET_BYTES,
  planNextBatch,
  plannerConfig,
  type PlannerConfig,
  type WorkItem,
} from "../../gpu-worker/scheduler/planner.js";

const load = (path: string): ModelConfig =>
  modelConfigSchema.parse(JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")));
const model = load("../fixtures/configs/qwen3-asr-1.7b.json");
const GiB = 2 ** 30;

const item = (id: string, seconds: number, arrivalMs: number, extra: { maxNewTokens?: number; forcedLanguage?: string } = {}): WorkItem => ({
  id,
  jobId: `job-${id}`,
  frames: Math.round(seconds * 100),
  arrivalMs,
  ...extra,
});
const ids = (items: readonly WorkItem[]): string[] => items.map((i) => i.id).sort();
const config = (overrides: Partial<PlannerConfig> = {}): PlannerConfig =>
  plannerConfig(model, { maxWaitMs: 10_000, ...overrides });

describe("plannerConfig", () => {
  it("defaults to a 5 GiB budget, a 5 % margin and the model's own dtypes", () => {
    const c = plannerConfig(model);
    expect(c.budgetBytes).toBe(5 * 2 ** 30);
    expect(DEFAULT_BUDGET_BYTES).toBe(5 * 2 ** 30);
    expect(c.safetyMargin).toBe(0.05);
    expect(c.weightsDtype).toBe("bfloat16");
    expect(c.ioDtype).toBe("float16");
  });

  it("refuses settings that cannot plan anything", () => {
    expect(() => plannerConfig(model, { maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => plannerConfig(model, { safetyMargin: 1 })).toThrow(/safetyMargin/);
    expect(() => plannerConfig(model, { budgetBytes: -1 })).toThrow(/budgetBytes/);
  });
});

describe("planNextBatch", () => {
  it("returns an empty plan for an empty queue", () => {
    const plan = planNextBatch(model, [], 0, config());
    expect(plan.batch).toEqual([]);
    expect(plan.rejected).toEqual([]);
    expect(plan.breakdown).toBeNull();
  });

  it("rejects an item that cannot fit even alone, naming its modelled bytes and the budget", () => {
    const twentyMinutes = item("huge", 1200, 0);
    const plan = planNextBatch(model, [twentyMinutes, item("small", 5, 1)], 10, config());
    expect(plan.batch.map((i) => i.id)).toEqual(["small"]);
    expect(plan.rejected).toHaveLength(1);
    const [rejection] = plan.rejected;
    expect(rejection?.item.id).toBe("huge");
    expect(rejection?.reason).toMatch(/item huge \(job job-huge, 1200\.00 s, \d+ sequence tokens\) needs [\d.]+ GiB/);
    expect(rejection?.reason).toMatch(/kvCache [\d.]+ MiB/);
    expect(rejection?.reason).toContain("budget 5.000 GiB (5,368,709,120 B)");
    expect(rejection?.reason).toContain("safety margin 0.05");
  });

  it("rejects malformed items instead of throwing", () => {
    const plan = planNextBatch(
      model,
      [
        item("negative", -1, 0),
        { id: "nan", jobId: "j", durationSeconds: Number.NaN, arrivalMs: 0 },
        item("klingon", 5, 0, { forcedLanguage: "Klingon" }),
        item("fraction", 5, 0, { maxNewTokens: 2.5 }),
        item("fine", 5, 0),
      ],
      0,
      config(),
    );
    expect(plan.batch.map((i) => i.id)).toEqual(["fine"]);
    expect(plan.rejected.map((r) => r.item.id)).toEqual(["negative", "nan", "klingon", "fraction"]);
    expect(plan.rejected.every((r) => r.reason.includes("malformed"))).toBe(true);
    expect(plan.rejected[2]?.reason).toContain('"Klingon"');
  });

  it("accepts a duration in seconds in place of frames", () => {
    const byFrames = planNextBatch(model, [item("a", 12.5, 0)], 0, config());
    const bySeconds = planNextBatch(model, [{ id: "a", jobId: "job-a", durationSeconds: 12.5, arrivalMs: 0 }], 0, config());
    expect(bySeconds.breakdown).toEqual(byFrames.breakdown);
  });

  it("anchors on the oldest item so long items are not starved by a stream of short ones", () => {
    const queue = [item("long", 30, 0), ...Array.from({ length: 20 }, (_, i) => item(`short${i}`, 2, 100 + i))];
    const plan = planNextBatch(model, queue, 200, config({ budgetBytes: 8 * GiB }));
    expect(plan.batch.map((i) => i.id)).toContain("long");
  });

  it("fills with items nearest the anchor's length, keeping padding small", () => {
    const queue = [
      item("anchor", 5, 0),
      ...Array.from({ length: 6 }, (_, i) => item(`long${i}`, 28, 10 + i)),
      ...Array.from({ length: 6 }, (_, i) => item(`near${i}`, 4 + i * 0.2, 20 + i)),
    ];
    const plan = planNextBatch(model, queue, 100, config({ budgetBytes: 8 * GiB, maxBatch: 7 }));
    expect(ids(plan.batch)).toEqual(ids([queue[0]!, ...queue.slice(7)]));
  });

  it("puts every overdue item first, oldest first, whatever its length", () => {
    const queue = [
      item("overdueLong", 25, 0),
      item("overdueShort", 2, 1),
      ...Array.from({ length: 10 }, (_, i) => item(`fresh${i}`, 25, 50_000 + i)),
    ];
    const plan = planNextBatch(model, queue, 60_000, config({ budgetBytes: 6 * GiB, maxWaitMs: 30_000 }));
    expect(plan.batch.slice(0, 2).map((i) => i.id)).toEqual(["overdueLong", "overdueShort"]);
  });

  it("caps the batch at maxBatch", () => {
    const queue = Array.from({ length: 30 }, (_, i) => item(`s${i}`, 2, i));
    const plan = planNextBatch(model, queue, 100, config({ budgetBytes: 40 * GiB, maxBatch: 5 }));
    expect(plan.batch).toHaveLength(5);
    expect(ids(plan.batch)).toEqual(["s0", "s1", "s2", "s3", "s4"]);
  });

  it("counts the worker's fixed encoder packing in every batch, and hands it to the engine", () => {
    const queue = Array.from({ length: 4 }, (_, i) => item(`c${i}`, 20, i));
    const packed = planNextBatch(model, queue, 10, config({ budgetBytes: 40 * GiB, maxEncoderSlicesPerCall: 8 }));
    expect(packed.encoderSlicesPerCall).toBe(8);
    expect(packed.batch).toHaveLength(4);
    const modelled = estimateBatchBytes(
      model,
      { weights: "bfloat16", io: "float16" },
      packed.batch.map((i) => ({ frames: i.frames ?? 0 })),
      { encoderSlicesPerCall: 8 },
    );
    expect(packed.breakdown).toEqual(modelled);
    const single = estimateBatchBytes(model, { weights: "bfloat16", io: "float16" }, packed.batch.map((i) => ({ frames: i.frames ?? 0 })), { encoderSlicesPerCall: 1 });
    expect(modelled.encoderActivations).toBeGreaterThan(single.encoderActivations);
  });
});
