import { and, eq, inArray, lt, lte } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { apiKeys, jobs, webhookAttempts, webhookDeliveries, type WebhookDelivery } from "../../db/schema.js";
import type { ServiceConfig } from "../../shared/config.js";
import type { Logger } from "../../shared/logger.js";
import { checkOutboundUrl, type ResolveHost } from "../../shared/network-guard.js";
import { classify, nextAttemptAt, retryAfterSeconds } from "./schedule.js";
import { signWebhook } from "./sign.js";

export interface DispatcherOptions {
  db: Db;
  config: ServiceConfig;
  logger: Logger;
  fetch?: typeof fetch;
  resolveHost?: ResolveHost;
  random?: () => number;
  now?: () => Date;
}

/**
 * Delivers webhook events from the `webhook_deliveries` table: claims due rows (SKIP LOCKED, so several workers
 * share the work), signs each attempt (Standard Webhooks), records every attempt, and schedules the next one
 * with backoff and jitter for up to 24 h. State lives in Postgres, so deliveries survive restarts.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<number> | null = null;

  constructor(private readonly options: DispatcherOptions) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Claims and delivers what is due; returns how many attempts were made. */
  async tick(limit = 10): Promise<number> {
    const { db, config } = this.options;
    // A claim older than two request timeouts belongs to a worker that died mid-attempt: due again.
    await db
      .update(webhookDeliveries)
      .set({ status: "pending" })
      .where(and(eq(webhookDeliveries.status, "delivering"), lt(webhookDeliveries.updatedAt, new Date(this.now().getTime() - 2 * config.webhooks.timeoutMs))));
    const claimed = await db.transaction(async (tx) => {
      const due = await tx
        .select({ id: webhookDeliveries.id })
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.nextAttemptAt, this.now())))
        .orderBy(webhookDeliveries.nextAttemptAt)
        .limit(limit)
        .for("update", { skipLocked: true });
      if (due.length === 0) return [];
      return tx
        .update(webhookDeliveries)
        .set({ status: "delivering" })
        .where(inArray(webhookDeliveries.id, due.map((d) => d.id)))
        .returning();
    });
    await Promise.all(claimed.map((d) => this.attempt(d)));
    return claimed.length;
  }

  private async attempt(delivery: WebhookDelivery): Promise<void> {
    const { db, config, logger } = this.options;
    const [owner] = await db
      .select({ secret: apiKeys.webhookSecret })
      .from(jobs)
      .innerJoin(apiKeys, eq(apiKeys.id, jobs.apiKeyId))
      .where(eq(jobs.id, delivery.jobId));
    const body = JSON.stringify(delivery.payload);
    const started = Date.now();
    let status: number | null = null;
    let error: string | undefined;
    let retryAfter: number | null = null;
    try {
      // Checked again at send time: DNS may have changed since the URL was accepted.
      const url = await checkOutboundUrl(delivery.url, config.network.allowPrivateTargets, this.options.resolveHost);
      const headers = signWebhook(owner?.secret ?? "", delivery.messageId, this.now(), body);
      const response = await (this.options.fetch ?? fetch)(url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "qwen3-asr-service-webhooks/1", ...headers },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(config.webhooks.timeoutMs),
      });
      status = response.status;
      retryAfter = retryAfterSeconds(response.headers.get("retry-after"), this.now());
      await response.body?.cancel().catch(() => undefined);
    } catch (e) {
      error = (e as Error).message;
    }
    const durationMs = Date.now() - started;
    const outcome = classify(status, error);
    const attempts = delivery.attempts + 1;
    const next =
      outcome.kind === "retry"
        ? nextAttemptAt(delivery.createdAt, attempts, config.webhooks.scheduleSeconds, config.webhooks.jitter, this.now(), this.options.random, retryAfter)
        : null;
    const finalStatus = outcome.kind === "succeeded" ? "succeeded" : outcome.kind === "stop" ? "failed" : next ? "pending" : "gave_up";
    await db.transaction(async (tx) => {
      await tx.insert(webhookAttempts).values({ deliveryId: delivery.id, statusCode: status, error: error ?? null, durationMs });
      await tx
        .update(webhookDeliveries)
        .set({
          status: finalStatus,
          attempts,
          lastStatusCode: status,
          lastError: outcome.kind === "succeeded" ? null : (error ?? outcome.reason),
          ...(next ? { nextAttemptAt: next } : {}),
        })
        .where(eq(webhookDeliveries.id, delivery.id));
    });
    logger.info("webhook attempt", { jobId: delivery.jobId, deliveryId: delivery.id, attempt: attempts, status, outcome: finalStatus, durationMs });
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      try {
        this.running = this.tick();
        const n = await this.running;
        if (!this.stopped) this.timer = setTimeout(loop, n > 0 ? 0 : this.options.config.webhooks.pollIntervalMs);
      } catch (error) {
        this.options.logger.warn("webhook dispatcher tick failed", { error });
        if (!this.stopped) this.timer = setTimeout(loop, this.options.config.webhooks.pollIntervalMs * 5);
      }
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
