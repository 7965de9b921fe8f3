import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { usageRecords } from "../../db/schema.js";

export interface UsageDay {
  date: string;
  jobs: number;
  billable_seconds: number;
  audio_seconds: number;
}

/** Billed usage per UTC day in [from, to). */
export async function usageByDay(db: Db, apiKeyId: string, from: Date, to: Date): Promise<UsageDay[]> {
  const day = sql<string>`to_char(${usageRecords.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`;
  const rows = await db
    .select({
      date: day,
      jobs: sql<number>`count(*)::int`,
      billable: sql<number>`sum(${usageRecords.billableSeconds})::int`,
      audio: sql<number>`sum(${usageRecords.audioSeconds})::float8`,
    })
    .from(usageRecords)
    .where(and(eq(usageRecords.apiKeyId, apiKeyId), gte(usageRecords.createdAt, from), lt(usageRecords.createdAt, to)))
    .groupBy(day)
    .orderBy(day);
  return rows.map((r) => ({ date: r.date, jobs: r.jobs, billable_seconds: r.billable, audio_seconds: Math.round(r.audio * 1000) / 1000 }));
}
