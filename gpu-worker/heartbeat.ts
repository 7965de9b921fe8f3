import { eq, lt } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { workerHeartbeats } from "../db/schema.js";
import type { Logger } from "../shared/logger.js";
import { recommend, type Recommendation, type RecommendationThresholds, type RuleId } from "../shared/recommendations.js";
import type { WorkerReport, WorkerSample } from "../shared/worker-sample.js";
import type { MemoryMeasurement, MemoryProbe } from "./device-memory.js";
import type { SampleWindow, WorkerState } from "./sample-window.js";

/** Rows of workers gone for a day are deleted by the next worker that starts. */
const FORGET_AFTER_MS = 24 * 3600 * 1000;
/** A stop never waits longer than this on a database that does not answer: the shutdown has its own deadline. */
const STOP_WRITE_TIMEOUT_MS = 2000;

export interface HeartbeatOptions {
  db: Db;
  logger: Logger;
  workerId: string;
  hostname: string;
  executionProvider: string;
  settings: { budgetBytes: number; safetyMargin: number; maxBatch: number };
  window: SampleWindow;
  state: () => WorkerState;
  measureMemory: MemoryProbe;
  onMeasured?: (measurement: MemoryMeasurement) => void;
  /** What the memory feedback loop cannot act on, published with each sample. */
  memoryLimits?: () => string[];
  intervalMs?: number;
  thresholds?: Partial<RecommendationThresholds>;
  now?: () => Date;
}

/**
 * Every few seconds: closes the sample interval, measures memory, rewrites this worker's `worker_heartbeats` row
 * with the sliding window, and logs a recommendation when its rule starts (or stops) firing for this worker.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private firing = new Map<RuleId, Recommendation>();
  private failing = false;
  private stopped = false;
  private stoppingSince: Date | null = null;

  constructor(private readonly options: HeartbeatOptions) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async start(): Promise<void> {
    const { db, logger } = this.options;
    await db
      .delete(workerHeartbeats)
      .where(lt(workerHeartbeats.updatedAt, new Date(this.now().getTime() - FORGET_AFTER_MS)))
      .catch((error: unknown) => logger.warn("pruning old heartbeats failed", { error }));
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 5000);
    this.timer.unref();
  }

  /** One heartbeat; serialized, so a manual tick (tests) never races the timer. Never rejects. */
  tick(): Promise<WorkerSample | null> {
    const next = this.chain.then(() =>
      this.stopped
        ? null
        : this.beat().catch((error: unknown) => {
            this.options.logger.warn("heartbeat failed", { error });
            return null;
          }),
    );
    this.chain = next;
    return next;
  }

  /**
   * First thing on a stop signal: one heartbeat that says the worker is stopping, so a dashboard that sees it
   * go silent afterwards knows it stopped and did not crash, even if the final `stopped_at` write never lands.
   */
  async markStopping(): Promise<void> {
    if (this.stoppingSince || this.stopped) return;
    this.stoppingSince = this.now();
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([this.tick(), new Promise<void>((resolve) => (timeout = setTimeout(resolve, STOP_WRITE_TIMEOUT_MS)))]);
    clearTimeout(timeout);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.chain;
    const now = this.now();
    const mark = this.options.db
      .update(workerHeartbeats)
      .set({ stoppedAt: now, updatedAt: now })
      .where(eq(workerHeartbeats.workerId, this.options.workerId))
      .catch((error: unknown) => this.options.logger.warn("marking the heartbeat stopped failed", { error }));
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([mark, new Promise<void>((resolve) => (timeout = setTimeout(resolve, STOP_WRITE_TIMEOUT_MS)))]);
    clearTimeout(timeout);
  }

  private async beat(): Promise<WorkerSample> {
    const { db, logger, window, settings } = this.options;
    const measured = await this.options.measureMemory();
    if (measured) this.options.onMeasured?.(measured);
    const now = this.now();
    const sample = window.close(now, this.options.state(), measured, this.options.memoryLimits?.() ?? []);
    const row = {
      workerId: this.options.workerId,
      hostname: this.options.hostname,
      executionProvider: this.options.executionProvider,
      budgetBytes: settings.budgetBytes,
      safetyMargin: settings.safetyMargin,
      maxBatch: settings.maxBatch,
      samples: [...window.samples],
      updatedAt: now,
      stoppedAt: null,
      stoppingSince: this.stoppingSince,
    };
    try {
      await db.insert(workerHeartbeats).values(row).onConflictDoUpdate({ target: workerHeartbeats.workerId, set: row });
      if (this.failing) logger.info("heartbeat written again");
      this.failing = false;
    } catch (error) {
      if (!this.failing) logger.warn("heartbeat write failed", { error });
      this.failing = true;
    }
    this.logChanges(row, now);
    return sample;
  }

  /** Logs a rule once when it starts firing and once when it clears, not on every beat. */
  private logChanges(report: WorkerReport, now: Date): void {
    const { logger } = this.options;
    const current = new Map(
      recommend([report], now, this.options.thresholds)
        .filter((r) => r.rule !== "healthy")
        .map((r) => [r.rule, r]),
    );
    for (const [rule, r] of current) {
      if (this.firing.has(rule)) continue;
      const fields = { rule, severity: r.severity, recommendation: r.message, numbers: r.numbers };
      if (r.severity === "critical") logger.error("recommendation firing", fields);
      else logger.warn("recommendation firing", fields);
    }
    for (const rule of this.firing.keys()) if (!current.has(rule)) logger.info("recommendation cleared", { rule });
    this.firing = current;
  }
}
