import { and, count, eq, gt, isNull, min } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { jobs, jobStatuses, webhookDeliveries, webhookDeliveryStatuses, workerHeartbeats, type JobStatus, type WebhookDeliveryStatus } from "../../db/schema.js";
import type { Logger } from "../../shared/logger.js";
import { defaultThresholds } from "../../shared/recommendations.js";

/** One periodic reading of the database. */
export interface JobStatsPoint {
  at: Date;
  jobsByStatus: Record<JobStatus, number>;
  /** Age of the oldest queued job (seconds); 0 when none waits. */
  oldestQueuedSeconds: number;
  webhookDeliveriesByStatus: Record<WebhookDeliveryStatus, number>;
  liveWorkers: number;
}

export interface JobStatsPollerOptions {
  db: Db;
  logger: Logger;
  intervalMs?: number;
  /** Points kept for the dashboard (default one hour at 5 s). */
  capacity?: number;
  now?: () => Date;
}

const zeroes = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/**
 * Counts jobs by status, the queue's oldest job, webhook deliveries by status and live workers every few seconds
 * (Node edge only: Workers have no timers between requests). Prometheus gauges read the latest point; the
 * dashboard charts the ring of recent ones. The queue depth is the count of queued jobs: cheaper and exact,
 * where SQS's ApproximateNumberOfMessages would need another API call and IAM permission.
 */
export class JobStatsPoller {
  private readonly points: JobStatsPoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failing = false;
  failures = 0;

  constructor(private readonly options: JobStatsPollerOptions) {}

  get latest(): JobStatsPoint | null {
    return this.points.at(-1) ?? null;
  }

  get history(): readonly JobStatsPoint[] {
    return this.points;
  }

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.intervalMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One reading; overlapping calls share it. Failures are counted and logged once per outage. */
  poll(): Promise<void> {
    this.running ??= this.read().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async read(): Promise<void> {
    const { db, logger } = this.options;
    const now = this.options.now?.() ?? new Date();
    try {
      const [byStatus, [oldest], deliveries, [workers]] = await Promise.all([
        db.select({ status: jobs.status, n: count() }).from(jobs).groupBy(jobs.status),
        db.select({ createdAt: min(jobs.createdAt) }).from(jobs).where(eq(jobs.status, "queued")),
        db.select({ status: webhookDeliveries.status, n: count() }).from(webhookDeliveries).groupBy(webhookDeliveries.status),
        db
          .select({ n: count() })
          .from(workerHeartbeats)
          .where(and(isNull(workerHeartbeats.stoppedAt), gt(workerHeartbeats.updatedAt, new Date(now.getTime() - defaultThresholds.staleAfterSeconds * 1000)))),
      ]);
      const point: JobStatsPoint = {
        at: now,
        jobsByStatus: { ...zeroes(jobStatuses), ...Object.fromEntries(byStatus.map((r) => [r.status, r.n])) },
        oldestQueuedSeconds: oldest?.createdAt ? Math.max(0, (now.getTime() - oldest.createdAt.getTime()) / 1000) : 0,
        webhookDeliveriesByStatus: { ...zeroes(webhookDeliveryStatuses), ...Object.fromEntries(deliveries.map((r) => [r.status, r.n])) },
        liveWorkers: workers?.n ?? 0,
      };
      this.points.push(point);
      if (this.points.length > (this.options.capacity ?? 720)) this.points.shift();
      if (this.failing) logger.info("job statistics readable again");
      this.failing = false;
    } catch (error) {
      this.failures++;
      if (!this.failing) logger.warn("reading job statistics failed", { error });
      this.failing = true;
    }
  }
}
