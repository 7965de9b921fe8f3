import { and, eq, gte, inArray, lt, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.js";
import { jobs, rateLimitWindows, usageRecords } from "../../db/schema.js";

/** Which budget a request counts against: reads (GET, HEAD) or everything else. */
export type RequestKind = "read" | "write";

/** Counts one request in the key's current one-minute window; returns that kind's count so far (this one included). */
export async function countRequest(db: Db, apiKeyId: string, windowStart: Date, kind: RequestKind = "write"): Promise<number> {
  const column = kind === "read" ? rateLimitWindows.readCount : rateLimitWindows.requestCount;
  const [row] = await db
    .insert(rateLimitWindows)
    .values({ apiKeyId, windowStart, requestCount: kind === "write" ? 1 : 0, readCount: kind === "read" ? 1 : 0 })
    .onConflictDoUpdate({
      target: [rateLimitWindows.apiKeyId, rateLimitWindows.windowStart],
      set: kind === "read" ? { readCount: sql`${column} + 1` } : { requestCount: sql`${column} + 1` },
    })
    .returning({ count: column });
  return row.count;
}

export async function purgeOldWindows(db: Db, before: Date): Promise<void> {
  await db.delete(rateLimitWindows).where(lt(rateLimitWindows.windowStart, before));
}

/**
 * Audio seconds that count against this month's quota: what was billed since the month began, plus the
 * duration of jobs still queued or processing (they will be billed), so parallel uploads cannot overrun it.
 */
export async function monthlyAudioSeconds(db: Db | Tx, apiKeyId: string, monthStart: Date): Promise<number> {
  const [billed] = await db
    .select({ s: sql<number>`coalesce(sum(${usageRecords.billableSeconds}), 0)::float8` })
    .from(usageRecords)
    .where(and(eq(usageRecords.apiKeyId, apiKeyId), gte(usageRecords.createdAt, monthStart)));
  const [pending] = await db
    .select({ s: sql<number>`coalesce(sum(ceil(${jobs.durationSeconds})), 0)::float8` })
    .from(jobs)
    .where(and(eq(jobs.apiKeyId, apiKeyId), inArray(jobs.status, ["queued", "processing"])));
  return Number(billed.s) + Number(pending.s);
}

/**
 * Serialises quota reservations of one key until the transaction ends (a transaction-scoped advisory lock):
 * a second job's check waits for the first job's insert, so parallel requests cannot all pass one check.
 */
export async function lockKeyQuota(tx: Tx, apiKeyId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${"quota:" + apiKeyId}, 0))`);
}
