import type { JobPhase } from "../db/schema.js";

/**
 * Where each phase's share of a job's progress bar lies. Transcribing takes most of a job; fetching and
 * decoding a 10-minute file take seconds, and their share moves the bar from the first second.
 */
export const phaseSpans: Readonly<Record<JobPhase, readonly [number, number]>> = {
  fetching: [0, 0.02],
  decoding: [0.02, 0.1],
  transcribing: [0.1, 1],
};

/** The job's overall fraction when `phase` is `fraction` (0–1, clamped) done. */
export function overallProgress(phase: JobPhase, fraction: number): number {
  const [from, to] = phaseSpans[phase];
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  return from + (to - from) * f;
}

export interface ProgressWrite {
  phase: JobPhase;
  progress: number;
}

/**
 * Decides which progress updates of one job reach the database: never backwards, a phase change at once,
 * otherwise at most one per `intervalMs`. Writes are queued one after another, so they land in order.
 */
export class ProgressReporter {
  private lastProgress = -1;
  private lastPhase: JobPhase | null = null;
  private lastWriteMs = -Infinity;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (update: ProgressWrite) => Promise<void>,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues a write when due; the returned promise settles when it (and every earlier one) has landed. */
  report(phase: JobPhase, fraction: number, options: { force?: boolean } = {}): Promise<void> {
    const progress = Math.max(overallProgress(phase, fraction), this.lastProgress);
    const now = this.now();
    const due = options.force || phase !== this.lastPhase || now - this.lastWriteMs >= this.intervalMs;
    if (!due || (phase === this.lastPhase && progress === this.lastProgress)) return this.chain;
    this.lastProgress = progress;
    this.lastPhase = phase;
    this.lastWriteMs = now;
    this.chain = this.chain.then(() => this.write({ phase, progress }));
    return this.chain;
  }
}
