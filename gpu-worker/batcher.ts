import type { ModelConfig } from "../shared/model-config.js";
import type { Logger } from "../shared/logger.js";
import type { Qwen3AsrEngine, Transcription } from "./engine/engine.js";
import { EngineError } from "./engine/errors.js";
import { durationSecondsOf, hardMaxNewTokensFor, itemMaxNewTokens, type MemoryBreakdown } from "./scheduler/memory-model.js";
import { planNextBatch, type PlannerConfig, type WorkItem } from "./scheduler/planner.js";

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
}

export interface BatcherOptions {
  engine: Pick<Qwen3AsrEngine, "transcribe" | "lastBatch">;
  model: ModelConfig;
  planner: PlannerConfig;
  logger: Logger;
  onOutcomes: (outcomes: ChunkOutcome[]) => Promise<void>;
  onBatch?: (report: BatchReport) => void;
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

  constructor(private readonly options: BatcherOptions) {}

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
      const plan = planNextBatch(this.options.model, this.queue, Date.now(), this.options.planner);
      const taken = new Set<ChunkWork>([...plan.batch, ...plan.rejected.map((r) => r.item)]);
      this.queue = this.queue.filter((w) => !taken.has(w));
      const outcomes: ChunkOutcome[] = plan.rejected.map((r) => ({
        work: r.item,
        ok: false,
        permanent: true,
        code: "exceeds_memory_budget",
        message: r.reason,
      }));
      if (plan.batch.length > 0) outcomes.push(...(await this.execute(plan.batch, plan.encoderSlicesPerCall, plan.breakdown)));
      try {
        await this.options.onOutcomes(outcomes);
      } catch (error) {
        this.options.logger.error("handling batch outcomes failed", { error });
      }
    }
  }

  private async execute(batch: ChunkWork[], encoderSlicesPerCall: number, modeled: MemoryBreakdown | null): Promise<ChunkOutcome[]> {
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
      this.options.onBatch?.({
        size: batch.length,
        modeled,
        durationMs: performance.now() - started,
        audioSeconds: batch.reduce((s, w) => s + w.pcm.length / 16000, 0),
        paddingWaste: this.options.engine.lastBatch.paddingWaste,
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
      this.options.logger.error("batch failed", { error, size: batch.length });
      return batch.map((work) => ({ work, ok: false, permanent: false, code: "engine_error", message: (error as Error).message }));
    }
  }
}
