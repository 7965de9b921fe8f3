import { and, asc, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { jobs, outbox } from "../db/schema.js";
import type { ServiceConfig } from "../shared/config.js";
import type { Logger } from "../shared/logger.js";
import { jobMessage, type JobQueue } from "../shared/queue.js";
import { failJob } from "./store.js";

/**
 * Periodic repair work, safe to run in every worker at once:
 * - the outbox relay sends queue messages whose send failed after the job was committed;
 * - the sweeper re-enqueues jobs stuck in `queued` or `processing` past a deadline (lost message, emulator
 *   restart, a worker that died) and fails those whose attempts are exhausted.
 */
export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    private readonly config: ServiceConfig,
    private readonly logger: Logger,
  ) {}

  /** Sends unsent outbox rows older than `minAgeMs` (fresh ones are the edge's own to send). */
  async relayOutbox(minAgeMs = 5000, limit = 100): Promise<number> {
    const rows = await this.db
      .select()
      .from(outbox)
      .where(and(isNull(outbox.sentAt), lt(outbox.createdAt, new Date(Date.now() - minAgeMs))))
      .orderBy(asc(outbox.id))
      .limit(limit);
    let sent = 0;
    for (const row of rows) {
      try {
        await this.queue.send(jobMessage(row.jobId));
        await this.db.update(outbox).set({ sentAt: new Date(), attempts: sql`${outbox.attempts} + 1` }).where(eq(outbox.id, row.id));
        sent++;
      } catch (error) {
        await this.db.update(outbox).set({ attempts: sql`${outbox.attempts} + 1` }).where(eq(outbox.id, row.id));
        this.logger.warn("outbox relay send failed", { jobId: row.jobId, error });
        break;
      }
    }
    if (sent > 0) this.logger.info("outbox relayed", { sent });
    return sent;
  }

  /** Re-enqueues stale jobs (and touches them so the next sweep waits again); fails exhausted ones. */
  async sweep(now = new Date()): Promise<{ requeued: number; failed: number }> {
    const { sweeper } = this.config;
    const queuedBefore = new Date(now.getTime() - sweeper.queuedStaleSeconds * 1000);
    const processingBefore = new Date(now.getTime() - sweeper.processingStaleSeconds * 1000);
    const stale = await this.db
      .select({ id: jobs.id, status: jobs.status, attempts: jobs.attempts })
      .from(jobs)
      .where(
        or(
          and(eq(jobs.status, "queued"), lt(jobs.updatedAt, queuedBefore)),
          and(eq(jobs.status, "processing"), lt(jobs.updatedAt, processingBefore)),
        ),
      )
      .limit(500);
    let requeued = 0;
    let failed = 0;
    for (const job of stale) {
      if (job.attempts >= sweeper.maxAttempts) {
        if (await failJob(this.db, job.id, "attempts_exhausted", `no result after ${job.attempts} attempts`)) failed++;
        continue;
      }
      await this.db.update(jobs).set({ updatedAt: now }).where(and(eq(jobs.id, job.id), inArray(jobs.status, ["queued", "processing"])));
      await this.queue.send(jobMessage(job.id));
      requeued++;
    }
    if (requeued + failed > 0) this.logger.info("sweeper", { requeued, failed });
    return { requeued, failed };
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      try {
        this.running = Promise.all([this.relayOutbox(), this.sweep()]);
        await this.running;
      } catch (error) {
        this.logger.warn("maintenance tick failed", { error });
      }
      if (this.stopped) return;
      this.timer = setTimeout(loop, this.config.sweeper.intervalSeconds * 1000);
      this.timer.unref();
    };
    this.timer = setTimeout(loop, 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
