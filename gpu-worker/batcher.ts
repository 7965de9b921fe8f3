import type { ModelConfig } from "../shared/model-config.js";
import type { Logger } from "../shared/logger.js";
import type { Qwen3AsrEngine, Transcription } from "./engine/engine.js";
import { EngineError } from "./engine/errors.js";
import type { MemoryMeasurement, MemoryProbe } from "./device-memory.js";
import { isOutOfMemoryError } from "./out-of-memory.js";
import { MemoryFeedback, planWithFeedback, type Adjustment } from "./scheduler/memory-feedback.js";
import { durationSecondsOf, estimateBatchBytes, hardMaxNewTokensFor, itemMaxNewTokens, type MemoryBreakdown } from "./scheduler/memory-model.js";
import type { PlannerConfig, WorkItem } from "./scheduler/planner.js";

/** A piece of audio to transcribe: a chunk of a long job, or a whole short one. */
export type ChunkWork = WorkItem & {
  frames: number;
  chunkIndex: number;
  /** 16 kHz mono PCM; a view into the job's decoded audio. */
  pcm: Float32Array;
  /** The job's context text (`prompt`), if any; `contextTokens` is its prompt-token cost. */
  context?: string;
};

export type ChunkOutcome =
  | { work: ChunkWork; ok: true; result: Transcription }
  /** `permanent`: this input can never succeed (the job fails); otherwise it may be retried. */
  | { work: ChunkWork; ok: false; permanent: boolean; code: string; message: string };

export interface BatchReport {
  size: number;
  modeled: MemoryBreakdown | null;
  durationMs: number;
  audioSeconds: number;
  paddingWaste: number;
  /** Memory measured right after the batch (for the feedback loop), when a probe is set and answered. */
  measured?: MemoryMeasurement;
}

export interface BatcherOptions {
  engine: Pick<Qwen3AsrEngine, "transcribe" | "lastBatch">;
  model: ModelConfig;
  planner: PlannerConfig;
  logger: Logger;
  onOutcomes: (outcomes: ChunkOutcome[]) => Promise<void>;
  onBatch?: (report: BatchReport) => void;
  /** The memory feedback loop; without one, a loop that learns only from out-of-memory failures. */
  feedback?: MemoryFeedback;
  /** Memory measured after every batch and fed to the loop; none: the loop never sees a reading. */
  measureMemory?: MemoryProbe;
  /** Every change the loop makes (metrics, logs, the dashboard's marks). */
  onAdjustments?: (adjustments: Adjustment[]) => void;
}

/**
 * The local queue in front of the engine. Whenever the engine is free it asks the planner for the next batch
 * (memory-model bounded, length-bucketed, oldest-first when overdue), runs it, and hands the outcomes back.
 * Items keep arriving (from SQS intake) while a batch runs.
 */
export class Batcher {
  private queue: ChunkWork[] = [];
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  readonly feedback: MemoryFeedback;

  constructor(private readonly options: BatcherOptions) {
    this.feedback = options.feedback ?? new MemoryFeedback({ budgetBytes: options.planner.budgetBytes });
  }

  get queued(): number {
    return this.queue.length;
  }

  add(items: ChunkWork[]): void {
    this.queue.push(...items);
    this.wake?.();
  }

  /** Forgets the queued items of a job (canceled, failed, or handed back). */
  drop(jobId: string): void {
    this.queue = this.queue.filter((w) => w.jobId !== jobId);
  }

  /** The max-new-tokens bound the planner reserved for this item; the engine is held to the same number. */
  maxNewTokens(work: ChunkWork): number {
    return itemMaxNewTokens(this.options.model, { frames: work.frames, maxNewTokens: work.maxNewTokens, forcedLanguage: work.forcedLanguage, contextTokens: work.contextTokens });
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the batch in flight, then stops; returns what was still queued. */
  async stop(): Promise<ChunkWork[]> {
    this.running = false;
    this.wake?.();
    await this.loop;
    const left = this.queue;
    this.queue = [];
    return left;
  }

  private async idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.wake = null;
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.queue.length === 0) {
        await this.idle();
        continue;
      }
      const plan = planWithFeedback(this.options.model, this.queue, Date.now(), this.options.planner, this.feedback);
      const taken = new Set<ChunkWork>([...plan.batch, ...plan.rejected.map((r) => r.item)]);
      this.queue = this.queue.filter((w) => !taken.has(w));
      const outcomes: ChunkOutcome[] = plan.rejected.map((r) => ({
        work: r.item,
        ok: false,
        permanent: true,
        code: "exceeds_memory_budget",
        message: r.reason,
      }));
      if (plan.batch.length > 0) outcomes.push(...(await this.execute(plan.batch, plan.encoderSlicesPerCall, plan.breakdown, this.feedback.plannerConfig(this.options.planner).maxBatch)));
      try {
        await this.options.onOutcomes(outcomes);
      } catch (error) {
        this.options.logger.error("handling batch outcomes failed", { error });
      }
    }
  }

  private adjusted(adjustments: Adjustment[]): void {
    if (adjustments.length === 0) return;
    try {
      this.options.onAdjustments?.(adjustments);
    } catch (error) {
      this.options.logger.warn("recording memory adjustments failed", { error });
    }
  }

  /** The memory model's view of a part of a planned batch (the halves of a split one). */
  private estimate(batch: readonly ChunkWork[], encoderSlicesPerCall: number): MemoryBreakdown {
    const { planner, model } = this.options;
    return estimateBatchBytes(
      model,
      { weights: planner.weightsDtype, io: planner.ioDtype },
      batch.map((w) => ({ frames: w.frames, maxNewTokens: w.maxNewTokens, forcedLanguage: w.forcedLanguage, contextTokens: w.contextTokens })),
      { encoderSlicesPerCall, calibration: planner.calibration },
    );
  }

  private async measure(): Promise<MemoryMeasurement | undefined> {
    try {
      return (await this.options.measureMemory?.()) ?? undefined;
    } catch {
      return undefined; // probes resolve null on failure; a throwing one must not fail the batch either
    }
  }

  private async execute(batch: ChunkWork[], encoderSlicesPerCall: number, modeled: MemoryBreakdown | null, plannedMaxBatch: number): Promise<ChunkOutcome[]> {
    const started = performance.now();
    try {
      const results = await this.options.engine.transcribe(
        batch.map((w) => ({
          pcm: w.pcm,
          language: w.forcedLanguage,
          maxNewTokens: this.maxNewTokens(w),
          // A chunk that outgrows its reservation is continued, never cut short.
          hardMaxNewTokens: Math.max(this.maxNewTokens(w), hardMaxNewTokensFor(durationSecondsOf(this.options.model, w.frames))),
          context: w.context,
        })),
        { encoderSlicesPerCall },
      );
      const durationMs = performance.now() - started;
      const measured = await this.measure();
      if (measured && modeled) this.adjusted(this.feedback.observe(modeled, measured.bytes, plannedMaxBatch));
      this.options.onBatch?.({
        size: batch.length,
        modeled,
        durationMs,
        audioSeconds: batch.reduce((s, w) => s + w.pcm.length / 16000, 0),
        paddingWaste: this.options.engine.lastBatch.paddingWaste,
        ...(measured ? { measured } : {}),
      });
      return batch.map((work, i) => ({ work, ok: true, result: results[i] }));
    } catch (error) {
      // An input the engine refuses fails its own job; the rest of the batch goes back to the queue.
      const bad = error instanceof EngineError ? /^utterance (\d+):/.exec(error.message) : null;
      if (error instanceof EngineError && bad) {
        const index = Number(bad[1]);
        this.queue.unshift(...batch.filter((_, i) => i !== index));
        return [{ work: batch[index], ok: false, permanent: true, code: error.code, message: error.message.replace(/^utterance \d+: /, "") }];
      }
      if (isOutOfMemoryError(error)) return this.splitAfterOutOfMemory(batch, encoderSlicesPerCall, modeled ?? this.estimate(batch, encoderSlicesPerCall), plannedMaxBatch, error as Error);
      this.options.logger.error("batch failed", { error, size: batch.length });
      return batch.map((work) => ({ work, ok: false, permanent: false, code: "engine_error", message: (error as Error).message }));
    }
  }

  /**
   * A batch that ran out of memory: the loop remembers its shape and tightens, and the batch runs again as two
   * halves (each split again if it fails the same way), so the plan that failed never runs twice. A single chunk
   * that runs out of memory alone can never succeed here: its job fails.
   */
  private async splitAfterOutOfMemory(
    batch: ChunkWork[],
    encoderSlicesPerCall: number,
    modeled: MemoryBreakdown,
    plannedMaxBatch: number,
    error: Error,
  ): Promise<ChunkOutcome[]> {
    this.adjusted(this.feedback.onOutOfMemory(modeled, plannedMaxBatch));
    const budget = this.options.planner.budgetBytes;
    if (batch.length === 1) {
      const [work] = batch;
      const message =
        `chunk ${work.chunkIndex} (${(work.pcm.length / 16000).toFixed(1)} s) ran out of memory even alone: the memory model put it at ` +
        `${(modeled.total / 2 ** 20).toFixed(0)} MiB of the ${(budget / 2 ** 20).toFixed(0)} MiB budget, but the engine said: ${error.message}`;
      this.options.logger.error("chunk ran out of memory alone; its job fails", { jobId: work.jobId, chunkIndex: work.chunkIndex, error });
      return [{ work, ok: false, permanent: true, code: "out_of_memory", message }];
    }
    const half = Math.ceil(batch.length / 2);
    const parts = [batch.slice(0, half), batch.slice(half)];
    this.options.logger.warn("batch ran out of memory; retrying it as two halves", { size: batch.length, halves: parts.map((p) => p.length), predictedBytes: modeled.total, error });
    const outcomes: ChunkOutcome[] = [];
    for (const part of parts) outcomes.push(...(await this.execute(part, encoderSlicesPerCall, this.estimate(part, encoderSlicesPerCall), plannedMaxBatch)));
    return outcomes;
  }
}
