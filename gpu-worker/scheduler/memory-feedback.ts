import type { ModelConfig } from "../../shared/model-config.js";
import type { MemoryBreakdown } from "./memory-model.js";
import { planNextBatch, type Plan, type PlannerConfig, type WorkItem } from "./planner.js";

/**
 * The memory feedback loop (monitor → analyse → adjust → verify → update), pure and deterministic.
 *
 * After every batch the caller reports the batch's modelled breakdown and the memory measured after it (CUDA:
 * the process's device memory; CPU: the process RSS). The loop
 * - corrects the model per batch shape: the weights are read from the files and exact, so the correction scales
 *   the rest (measured − weights) ÷ (predicted − weights); raised at once, lowered slowly, never below 1
 *   (the loop only ever adds caution) and never above `maxCorrection` (beyond it the model is wrong, which a
 *   person must fix: a recommendation, not an adjustment);
 * - tightens when a reading passes `tightenAbove` (90 %) of the budget: the safety margin goes up one step, and
 *   once the margin is at its ceiling the largest batch goes down; it relaxes one step at a time after
 *   `relaxAfterBatches` batches in a row below `relaxBelow` of the budget;
 * - remembers a batch that ran out of memory as an unsafe shape: no later plan as large (rows and padded length)
 *   runs again, and the margin goes up.
 * It acts on the planner only through settings the planner already takes (safety margin, largest batch) and by
 * asking for a smaller batch when the corrected prediction does not fit (planWithFeedback).
 *
 * An arena keeps its high-water mark, so a reading after a small batch may still show an earlier large one: a
 * reading corrects a shape only when it could belong to that batch (the reading rose, or the batch is the
 * largest predicted since the reading last fell). Every other use of a reading is conservative anyway.
 */

export interface FeedbackSettings {
  budgetBytes: number;
  /** Readings above this share of the budget tighten the loop (the seed's alert level). */
  tightenAbove: number;
  /** Readings below this share for `relaxAfterBatches` batches in a row relax the loop one step. */
  relaxBelow: number;
  relaxAfterBatches: number;
  /** Safety margin added (or removed) per step. */
  marginStep: number;
  /** The most safety margin the loop adds to the configured one; past it the largest batch goes down instead. */
  maxExtraMargin: number;
  /** Largest correction (measured ÷ predicted, beyond the weights) applied to a prediction. */
  maxCorrection: number;
  /** Per batch, how much a shape's correction may fall back towards a lower reading (a fraction of the gap). */
  correctionDecay: number;
}

export const DEFAULT_FEEDBACK_SETTINGS: Omit<FeedbackSettings, "budgetBytes"> = {
  tightenAbove: 0.9,
  relaxBelow: 0.8,
  relaxAfterBatches: 50,
  marginStep: 0.02,
  maxExtraMargin: 0.25,
  maxCorrection: 1.5,
  correctionDecay: 0.05,
};

export type AdjustmentAction =
  | "correction_raised"
  | "correction_lowered"
  | "margin_raised"
  | "margin_lowered"
  | "max_batch_lowered"
  | "max_batch_raised"
  | "unsafe_shape";

export interface Adjustment {
  action: AdjustmentAction;
  /** One sentence a person can read in a log line or on the chart. */
  reason: string;
  /** The loop's state after the adjustment: margin added to the configured one, its cap on the batch (null: none). */
  extraMargin: number;
  maxBatchCap: number | null;
  shape?: string;
  correction?: number;
  measuredBytes?: number;
  predictedBytes?: number;
}

/** What the loop saw but cannot fix by itself: shown as a recommendation. */
export interface FeedbackLimit {
  rule: "correction_at_cap" | "tightened_to_the_floor" | "single_chunk_above_alert";
  message: string;
}

/** The part of a batch the loop keys on: rows and padded sequence length (the KV cache's shape). */
export interface BatchShape {
  batchSize: number;
  paddedSequenceTokens: number;
}

/** Padded lengths are grouped in steps of this many tokens, so nearby batches share a correction. */
const TOKEN_BUCKET = 64;

export function shapeOf(breakdown: MemoryBreakdown): BatchShape {
  return { batchSize: breakdown.shape.batchSize, paddedSequenceTokens: breakdown.shape.paddedSequenceTokens };
}

/** A prediction with the loop's correction applied to everything but the weights. */
export function correctedBytes(breakdown: MemoryBreakdown, correction: number): number {
  return breakdown.weights + (breakdown.total - breakdown.weights) * correction;
}

export function shapeKey(shape: BatchShape): string {
  return `${shape.batchSize}x${Math.ceil(shape.paddedSequenceTokens / TOKEN_BUCKET) * TOKEN_BUCKET}`;
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export interface FeedbackState {
  /** Added to the planner's own safety margin. */
  extraMargin: number;
  /** The loop's cap on the largest batch (Infinity: none). */
  maxBatchCap: number;
  /** The largest correction seen recently: the one used for shapes never measured. */
  globalCorrection: number;
  corrections: ReadonlyMap<string, number>;
  unsafe: readonly BatchShape[];
  limits: readonly FeedbackLimit[];
}

export class MemoryFeedback {
  readonly settings: FeedbackSettings;
  private extraMargin = 0;
  private maxBatchCap = Number.POSITIVE_INFINITY;
  private globalCorrection = 1;
  private readonly corrections = new Map<string, number>();
  private readonly unsafe: BatchShape[] = [];
  private quietBatches = 0;
  private lastMeasured: number | null = null;
  private largestPredictedSinceFall = 0;
  /** Each limit with the batch count when it was last seen: one not seen again for relaxAfterBatches batches lapses. */
  private readonly limits = new Map<FeedbackLimit["rule"], { limit: FeedbackLimit; seenAt: number }>();
  private batches = 0;

  constructor(settings: Partial<FeedbackSettings> & { budgetBytes: number }) {
    this.settings = { ...DEFAULT_FEEDBACK_SETTINGS, ...settings };
    const s = this.settings;
    if (!(s.budgetBytes > 0)) throw new RangeError("budgetBytes must be positive");
    if (!(s.relaxBelow < s.tightenAbove && s.tightenAbove <= 1)) throw new RangeError("relaxBelow < tightenAbove ≤ 1 is required");
    if (!(s.marginStep > 0 && s.maxExtraMargin >= 0 && s.maxExtraMargin < 0.9)) throw new RangeError("marginStep must be positive and maxExtraMargin in [0, 0.9)");
    if (!(s.maxCorrection >= 1)) throw new RangeError("maxCorrection must be ≥ 1");
    if (!(s.correctionDecay >= 0 && s.correctionDecay <= 1)) throw new RangeError("correctionDecay must be in [0, 1]");
    if (!(Number.isInteger(s.relaxAfterBatches) && s.relaxAfterBatches >= 1)) throw new RangeError("relaxAfterBatches must be an integer ≥ 1");
  }

  get state(): FeedbackState {
    return {
      extraMargin: this.extraMargin,
      maxBatchCap: this.maxBatchCap,
      globalCorrection: this.globalCorrection,
      corrections: new Map(this.corrections),
      unsafe: [...this.unsafe],
      limits: [...this.limits.values()].filter((l) => this.batches - l.seenAt < this.settings.relaxAfterBatches).map((l) => l.limit),
    };
  }

  /** The planner settings the loop currently allows, from the configured ones. */
  plannerConfig(base: PlannerConfig): PlannerConfig {
    return {
      ...base,
      // The planner needs a margin below 1; at 0.95 nothing but the smallest items would fit anyway.
      safetyMargin: round4(Math.min(0.95, base.safetyMargin + this.extraMargin)),
      maxBatch: Math.max(1, Math.min(base.maxBatch, this.maxBatchCap)),
    };
  }

  /** The factor the loop applies to a prediction of this shape: its own when measured, else the largest seen. */
  correctionFor(shape: BatchShape): number {
    return this.corrections.get(shapeKey(shape)) ?? this.globalCorrection;
  }

  /** Whether a planned batch may run: its corrected prediction fits the limit and it is smaller than every shape that ran out of memory. */
  admits(breakdown: MemoryBreakdown, limitBytes: number): boolean {
    const shape = shapeOf(breakdown);
    if (this.isUnsafe(shape)) return false;
    return correctedBytes(breakdown, this.correctionFor(shape)) <= limitBytes;
  }

  isUnsafe(shape: BatchShape): boolean {
    return this.unsafe.some((u) => shape.batchSize >= u.batchSize && shape.paddedSequenceTokens >= u.paddedSequenceTokens);
  }

  /** Monitor + analyse + adjust: one batch's prediction against the memory measured after it. */
  observe(breakdown: MemoryBreakdown, measuredBytes: number, plannedMaxBatch: number): Adjustment[] {
    if (!(Number.isFinite(measuredBytes) && measuredBytes > 0)) return [];
    this.batches++;
    const adjustments: Adjustment[] = [];
    const shape = shapeOf(breakdown);
    const predicted = breakdown.total;
    const rose = this.lastMeasured === null || measuredBytes > this.lastMeasured;
    if (this.lastMeasured !== null && measuredBytes < this.lastMeasured) this.largestPredictedSinceFall = 0;
    const attributable = rose || predicted >= this.largestPredictedSinceFall;
    this.largestPredictedSinceFall = Math.max(this.largestPredictedSinceFall, predicted);
    this.lastMeasured = measuredBytes;

    if (attributable) adjustments.push(...this.correct(shape, breakdown, measuredBytes));

    const fraction = measuredBytes / this.settings.budgetBytes;
    if (fraction > this.settings.tightenAbove && shape.batchSize <= 1) {
      // A margin or a smaller batch cannot bring one chunk down: ratcheting would only starve later batches.
      this.quietBatches = 0;
      this.noteLimit({
        rule: "single_chunk_above_alert",
        message:
          `a single chunk alone measured ${pct(fraction)} of the budget (${mib(measuredBytes)}), above ${pct(this.settings.tightenAbove)}: ` +
          `shorter chunks (chunking.chunkSeconds), smaller weights or a larger budget would leave room`,
      });
    } else if (fraction > this.settings.tightenAbove) {
      this.quietBatches = 0;
      adjustments.push(...this.tighten(`memory measured at ${pct(fraction)} of the budget (${mib(measuredBytes)}), above ${pct(this.settings.tightenAbove)}`, plannedMaxBatch, shape.batchSize, { measuredBytes, predictedBytes: predicted }));
    } else if (fraction < this.settings.relaxBelow) {
      this.quietBatches++;
      if (this.quietBatches >= this.settings.relaxAfterBatches) {
        this.quietBatches = 0;
        adjustments.push(...this.relax(`memory stayed below ${pct(this.settings.relaxBelow)} of the budget for ${this.settings.relaxAfterBatches} batches`));
      }
    } else {
      this.quietBatches = 0;
    }
    return adjustments;
  }

  /** A batch ran out of memory: its shape is never planned again and the loop tightens. */
  onOutOfMemory(breakdown: MemoryBreakdown, plannedMaxBatch: number): Adjustment[] {
    const shape = shapeOf(breakdown);
    this.quietBatches = 0;
    const adjustments: Adjustment[] = [];
    if (!this.isUnsafe(shape)) {
      // Keep only the minimal unsafe shapes: one that covers another says nothing more.
      for (let i = this.unsafe.length - 1; i >= 0; i--) {
        const u = this.unsafe[i];
        if (u.batchSize >= shape.batchSize && u.paddedSequenceTokens >= shape.paddedSequenceTokens) this.unsafe.splice(i, 1);
      }
      this.unsafe.push(shape);
      adjustments.push(this.adjustment("unsafe_shape", `a batch of ${shape.batchSize} × ${shape.paddedSequenceTokens} padded tokens ran out of memory; no batch as large runs again`, { shape: shapeKey(shape), predictedBytes: breakdown.total }));
    }
    adjustments.push(...this.tighten(`a batch of ${shape.batchSize} ran out of memory`, plannedMaxBatch, shape.batchSize, { predictedBytes: breakdown.total }));
    return adjustments;
  }

  private correct(shape: BatchShape, breakdown: MemoryBreakdown, measured: number): Adjustment[] {
    const key = shapeKey(shape);
    const predicted = breakdown.total;
    const ratio = (measured - breakdown.weights) / Math.max(1, predicted - breakdown.weights);
    const bounded = Math.min(this.settings.maxCorrection, Math.max(1, ratio));
    if (ratio > this.settings.maxCorrection) {
      this.noteLimit({
        rule: "correction_at_cap",
        message:
          `measured memory beyond the weights is ${ratio.toFixed(2)}× the memory model's prediction for batches of ${key} tokens, more than the loop corrects ` +
          `(memory.feedback.maxCorrection ${this.settings.maxCorrection}): recalibrate the memory model (npm run calibrate) or raise the safety margin`,
      });
    }
    const previous = this.corrections.get(key);
    // Up at once, down slowly: one low reading must not undo what a high one taught.
    const next = previous === undefined || bounded >= previous ? bounded : round4(previous - (previous - bounded) * this.settings.correctionDecay);
    this.corrections.set(key, next);
    const globalBefore = this.globalCorrection;
    this.globalCorrection = Math.max(bounded, round4(globalBefore - (globalBefore - bounded) * this.settings.correctionDecay));
    const before = previous ?? globalBefore;
    if (Math.abs(next - before) < 0.005) return [];
    return [
      this.adjustment(next > before ? "correction_raised" : "correction_lowered", `batches of ${key} tokens measured ${ratio.toFixed(3)}× the model's prediction beyond the weights`, {
        shape: key,
        correction: next,
        measuredBytes: measured,
        predictedBytes: predicted,
      }),
    ];
  }

  private tighten(why: string, plannedMaxBatch: number, batchSize: number, fields: Partial<Adjustment>): Adjustment[] {
    if (this.extraMargin + this.settings.marginStep <= this.settings.maxExtraMargin + 1e-9) {
      this.extraMargin = round4(this.extraMargin + this.settings.marginStep);
      return [this.adjustment("margin_raised", `${why}: safety margin raised by ${this.settings.marginStep}`, fields)];
    }
    const current = Math.min(plannedMaxBatch, this.maxBatchCap, Math.max(batchSize, 1));
    if (current > 1) {
      this.maxBatchCap = current - 1;
      return [this.adjustment("max_batch_lowered", `${why}: the safety margin is at its ceiling, so the largest batch goes down to ${this.maxBatchCap}`, fields)];
    }
    this.noteLimit({
      rule: "tightened_to_the_floor",
      message: `${why}, with the safety margin at its ceiling and batches of one: lower the chunk length, use smaller weights (int8) or raise the budget`,
    });
    return [];
  }

  private relax(why: string): Adjustment[] {
    // Undo in the reverse order of tightening: the batch cap first, then the margin.
    if (Number.isFinite(this.maxBatchCap)) {
      this.maxBatchCap += 1;
      return [this.adjustment("max_batch_raised", `${why}: the largest batch goes up to ${this.maxBatchCap}`, {})];
    }
    if (this.extraMargin > 0) {
      this.extraMargin = round4(Math.max(0, this.extraMargin - this.settings.marginStep));
      return [this.adjustment("margin_lowered", `${why}: safety margin lowered by ${this.settings.marginStep}`, {})];
    }
    return [];
  }

  private noteLimit(limit: FeedbackLimit): void {
    this.limits.set(limit.rule, { limit, seenAt: this.batches });
  }

  private adjustment(action: AdjustmentAction, reason: string, fields: Partial<Adjustment>): Adjustment {
    return { action, reason, extraMargin: this.extraMargin, maxBatchCap: Number.isFinite(this.maxBatchCap) ? this.maxBatchCap : null, ...fields };
  }
}

/**
 * planNextBatch under the loop: the loop's margin and largest batch, and a smaller batch while the corrected
 * prediction does not fit or the batch is as large as one that ran out of memory. An item is rejected only when
 * it cannot run under the configured settings: a tightened loop delays work, it never fails it.
 */
export function planWithFeedback<T extends WorkItem>(
  model: ModelConfig,
  queue: readonly T[],
  nowMs: number,
  base: PlannerConfig,
  feedback: MemoryFeedback,
): Plan<T> {
  let config = feedback.plannerConfig(base);
  let plan = planNextBatch(model, queue, nowMs, config);
  let rejected = plan.rejected;
  if (rejected.length > 0 && config.safetyMargin > base.safetyMargin) {
    const underBase = planNextBatch(model, rejected.map((r) => r.item), nowMs, { ...base, maxBatch: 1 });
    rejected = underBase.rejected;
    if (plan.batch.length === 0 && underBase.batch.length > 0) {
      // Only items the tightened margin turned away are left: the oldest runs alone, as the configured settings allow.
      return { ...underBase, rejected };
    }
  }
  while (plan.batch.length > 1 && plan.breakdown && !feedback.admits(plan.breakdown, plan.limitBytes)) {
    config = { ...config, maxBatch: plan.batch.length - 1 };
    plan = planNextBatch(model, queue, nowMs, config);
  }
  return { ...plan, rejected };
}
