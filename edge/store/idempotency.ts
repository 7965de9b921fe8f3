import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { idempotencyKeys, type IdempotencyKey } from "../../db/schema.js";

export type Reservation = { kind: "reserved" } | { kind: "existing"; row: IdempotencyKey };

/** Takes the key for this request, or returns what is already recorded under it (expired rows are dropped). */
export async function reserveIdempotencyKey(db: Db, apiKeyId: string, key: string, requestHash: string, ttlHours: number, now: Date): Promise<Reservation> {
  await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key), lt(idempotencyKeys.expiresAt, now)));
  const inserted = await db
    .insert(idempotencyKeys)
    .values({ apiKeyId, key, requestHash, expiresAt: new Date(now.getTime() + ttlHours * 3600_000) })
    .onConflictDoNothing()
    .returning();
  if (inserted.length > 0) return { kind: "reserved" };
  const [row] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key)));
  return row ? { kind: "existing", row } : { kind: "reserved" };
}

export async function recordIdempotentResponse(db: Db, apiKeyId: string, key: string, jobId: string | null, status: number, body: unknown): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ jobId, responseStatus: status, responseBody: body })
    .where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key)));
}

/** A request that failed before producing a result frees its key, so the caller can retry with a fix. */
export async function releaseIdempotencyKey(db: Db, apiKeyId: string, key: string): Promise<void> {
  await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key)));
}
