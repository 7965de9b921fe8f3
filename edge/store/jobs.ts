import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.js";
import { jobChunks, jobs, outbox, transcripts, type Job, type NewJob, type Transcript } from "../../db/schema.js";
import { jobMessage } from "../../shared/queue.js";
import { isJobId, parseInstant } from "../params.js";

const ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** `tr_` + 24 base36 characters: readable in URLs and logs, unguessable. */
export function newJobId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return "tr_" + Array.from(bytes, (b) => ID_ALPHABET[b % 36]).join("");
}

/** The job and its queue message in one transaction (transactional outbox): a crash can lose neither. */
export async function insertJobWithOutbox(
  db: Db,
  job: NewJob & { id: string },
  /** In the same transaction, before and after the insert: either refuses the job by throwing (quota, upload use). */
  checks: { before?: (tx: Tx) => Promise<void>; after?: (tx: Tx) => Promise<void> } = {},
): Promise<{ job: Job; outboxId: number }> {
  return db.transaction(async (tx) => {
    await checks.before?.(tx);
    const [row] = await tx.insert(jobs).values(job).returning();
    await checks.after?.(tx);
    const [message] = await tx.insert(outbox).values({ jobId: job.id, payload: jobMessage(job.id) }).returning({ id: outbox.id });
    return { job: row, outboxId: message.id };
  });
}

export async function markOutboxSent(db: Db, outboxId: number): Promise<void> {
  await db.update(outbox).set({ sentAt: new Date() }).where(eq(outbox.id, outboxId));
}

export interface JobWithTranscript {
  job: Job;
  transcript: Transcript | null;
}

export async function findJob(db: Db, apiKeyId: string, jobId: string): Promise<JobWithTranscript | null> {
  if (!isJobId(jobId)) return null; // a malformed id (a NUL byte, 10 kB of text) names no job: 404, not a database error
  const rows = await db
    .select({ job: jobs, transcript: transcripts })
    .from(jobs)
    .leftJoin(transcripts, eq(transcripts.jobId, jobs.id))
    .where(and(eq(jobs.id, jobId), eq(jobs.apiKeyId, apiKeyId)))
    .limit(1);
  return rows[0] ?? null;
}

/** Cursor = base64url("<created_at ISO>|<id>") of the last row of the previous page. */
export function encodeCursor(job: Pick<Job, "createdAt" | "id">): string {
  return btoa(`${job.createdAt.toISOString()}|${job.id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } | null {
  try {
    const text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    const bar = text.indexOf("|");
    if (bar < 0) return null;
    const createdAt = parseInstant(text.slice(0, bar));
    const id = text.slice(bar + 1);
    return createdAt && isJobId(id) ? { createdAt, id } : null;
  } catch {
    return null;
  }
}

/** Newest first, keyset-paginated on (created_at, id) so pages stay stable while jobs are added. */
export async function listJobs(db: Db, apiKeyId: string, limit: number, after: { createdAt: Date; id: string } | null): Promise<Job[]> {
  const page = after
    ? or(lt(jobs.createdAt, after.createdAt), and(eq(jobs.createdAt, after.createdAt), lt(jobs.id, after.id)))
    : undefined;
  return db
    .select()
    .from(jobs)
    .where(and(eq(jobs.apiKeyId, apiKeyId), page))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(limit);
}

/**
 * Cancels a job that has not finished and forgets its audio and transcript. Billing records stay (a completed
 * job was billed). Returns the audio key to delete from blob storage, or null.
 */
export async function cancelAndForget(db: Db, apiKeyId: string, jobId: string): Promise<{ job: Job; audioKey: string | null } | null> {
  if (!isJobId(jobId)) return null;
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(jobs)
      .where(and(eq(jobs.id, jobId), eq(jobs.apiKeyId, apiKeyId)))
      .for("update");
    if (!current) return null;
    const unfinished = current.status === "queued" || current.status === "processing";
    // Every copy of the text goes: the transcript and the per-chunk results long audio is stitched from.
    await tx.delete(transcripts).where(eq(transcripts.jobId, jobId));
    await tx.delete(jobChunks).where(eq(jobChunks.jobId, jobId));
    const [job] = await tx
      .update(jobs)
      .set({
        audioKey: null,
        ...(unfinished ? { status: "canceled" as const, canceledAt: new Date() } : {}),
      })
      .where(eq(jobs.id, jobId))
      .returning();
    return { job, audioKey: current.audioKey };
  });
}

export async function countUnsentOutbox(db: Db): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(outbox).where(isNull(outbox.sentAt));
  return row.n;
}
