import { asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { webhookAttempts, webhookDeliveries, type Job, type WebhookAttempt, type WebhookDelivery } from "../../db/schema.js";

export async function deliveriesOf(db: Db, jobId: string): Promise<{ delivery: WebhookDelivery; attempts: WebhookAttempt[] }[]> {
  const deliveries = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.jobId, jobId)).orderBy(asc(webhookDeliveries.createdAt));
  if (deliveries.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookAttempts)
    .where(inArray(webhookAttempts.deliveryId, deliveries.map((d) => d.id)))
    .orderBy(asc(webhookAttempts.attemptedAt), asc(webhookAttempts.id));
  return deliveries.map((delivery) => ({ delivery, attempts: attempts.filter((a) => a.deliveryId === delivery.id) }));
}

/** Makes every delivery of a finished job due now again (same webhook-id, so receivers can dedupe). */
export async function redeliver(db: Db, job: Job): Promise<number> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ status: "pending", nextAttemptAt: new Date() })
    .where(eq(webhookDeliveries.jobId, job.id))
    .returning({ id: webhookDeliveries.id });
  return rows.length;
}
