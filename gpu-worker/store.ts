import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db, Tx } from "../db/client.js";
import { jobChunks, jobs, transcripts, usageRecords, webhookDeliveries, type Job, type JobChunk, type JobPhase } from "../db/schema.js";

/** Postgres side of the worker: every state change of a job, each in one transaction. */

export type Claim =
  | { kind: "claimed"; job: Job }
  | { kind: "finished"; job: Job }
  | { kind: "unknown" }
  | { kind: "exhausted"; job: Job };

const FINISHED = ["completed", "failed", "canceled"] as const;

export async function claimJob(db: Db, jobId: string, maxAttempts: number): Promise<Claim> {
  return db.transaction(async (tx) => {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for("update");
    if (!job) return { kind: "unknown" } as const;
    if ((FINISHED as readonly string[]).includes(job.status)) return { kind: "finished", job } as const;
    if (job.attempts >= maxAttempts) {
      const failed = await markFailed(tx, job, "attempts_exhausted", `gave up after ${job.attempts} attempts`);
      return { kind: "exhausted", job: failed } as const;
    }
    const [claimed] = await tx
      .update(jobs)
      .set({ status: "processing", attempts: sql`${jobs.attempts} + 1`, startedAt: job.startedAt ?? new Date() })
      .where(eq(jobs.id, jobId))
      .returning();
    return { kind: "claimed", job: claimed } as const;
  });
}

export async function finishedChunks(db: Db, jobId: string): Promise<JobChunk[]> {
  return db.select().from(jobChunks).where(eq(jobChunks.jobId, jobId));
}

/** Progress never goes back, not even when a retried job starts over at `fetching`. */
const atLeast = (progress: number) => sql`greatest(${jobs.progress}, ${Math.min(1, Math.max(0, progress))})`;

export async function setChunkPlan(db: Db, jobId: string, total: number, done: number, progress: number): Promise<void> {
  await db
    .update(jobs)
    .set({ chunksTotal: total, chunksDone: done, phase: "transcribing", progress: atLeast(progress) })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, "processing")));
}

/** The phase a processing job is in and its overall progress (kept if higher). */
export async function savePhase(db: Db, jobId: string, phase: JobPhase, progress: number): Promise<void> {
  await db
    .update(jobs)
    .set({ phase, progress: atLeast(progress) })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, "processing")));
}

/** A finished chunk; kept even if the job is retried, so a redelivery only does the chunks still missing. */
export async function saveChunk(db: Db, chunk: typeof jobChunks.$inferInsert): Promise<void> {
  // Under the job's row lock, and only while it is processing: a chunk finished after DELETE (which takes the
  // same lock) must not bring back text the caller deleted.
  await db.transaction(async (tx) => {
    const [job] = await tx.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, chunk.jobId)).for("share");
    if (job?.status !== "processing") return;
    await tx.insert(jobChunks).values(chunk).onConflictDoNothing();
  });
}

export async function saveProgress(db: Db, jobId: string, chunksDone: number, progress: number): Promise<Job["status"] | null> {
  const [row] = await db
    .update(jobs)
    .set({ chunksDone, progress: atLeast(progress) })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, "processing")))
    .returning({ status: jobs.status });
  if (row) return row.status;
  const [current] = await db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId));
  return current?.status ?? null;
}

export interface Completion {
  text: string;
  segments: { id: number; start: number; end: number; text: string; avg_logprob?: number | null; no_speech_prob?: number | null }[];
  language: string | null;
  /** Job-level confidence (gpu-worker/transcript-confidence.ts); null when not scored. */
  avgLogprob?: number | null;
  languageProbability?: number | null;
  durationSeconds: number;
  billableSeconds: number;
  /** The audio held no speech: the text is empty. */
  noSpeech: boolean;
}

export interface EventPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export function jobEvent(job: Job, type: "transcription.completed" | "transcription.failed"): EventPayload {
  return {
    type,
    timestamp: new Date().toISOString(),
    data: {
      id: job.id,
      object: "transcription",
      status: job.status,
      duration_seconds: job.durationSeconds,
      ...(job.status === "completed" ? { no_speech: job.noSpeech ?? false } : {}),
      error: job.errorCode ? { code: job.errorCode, message: job.errorMessage } : null,
      transcript_url: `/v1/transcriptions/${job.id}/transcript`,
    },
  };
}

async function enqueueWebhook(tx: Tx, job: Job, type: "transcription.completed" | "transcription.failed"): Promise<void> {
  if (!job.webhookUrl) return;
  await tx
    .insert(webhookDeliveries)
    .values({ jobId: job.id, eventType: type, messageId: `msg_${crypto.randomUUID().replace(/-/g, "")}`, url: job.webhookUrl, payload: { ...jobEvent(job, type) } })
    .onConflictDoNothing();
}

/**
 * Transcript, usage and `completed` in one transaction, only if the job is still processing: a redelivered
 * message or a second worker finds it completed and bills nothing more (usage_records.job_id is unique too).
 */
export async function completeJob(db: Db, jobId: string, done: Completion): Promise<Job | null> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for("update");
    if (!current || current.status !== "processing") return null;
    await tx.insert(transcripts).values({
        jobId,
        text: done.text,
        segments: done.segments,
        language: done.language,
        avgLogprob: done.avgLogprob ?? null,
        languageProbability: done.languageProbability ?? null,
      }).onConflictDoNothing();
    await tx
      .insert(usageRecords)
      .values({ jobId, apiKeyId: current.apiKeyId, billableSeconds: done.billableSeconds, audioSeconds: done.durationSeconds })
      .onConflictDoNothing();
    const [job] = await tx
      .update(jobs)
      .set({
        status: "completed",
        progress: 1,
        chunksDone: current.chunksTotal ?? current.chunksDone,
        completedAt: new Date(),
        detectedLanguage: done.language,
        durationSeconds: done.durationSeconds,
        noSpeech: done.noSpeech,
      })
      .where(eq(jobs.id, jobId))
      .returning();
    await enqueueWebhook(tx, job, "transcription.completed");
    return job;
  });
}

async function markFailed(tx: Tx, job: Job, code: string, message: string): Promise<Job> {
  const [failed] = await tx
    .update(jobs)
    .set({ status: "failed", errorCode: code, errorMessage: message.slice(0, 1000), completedAt: new Date() })
    .where(eq(jobs.id, job.id))
    .returning();
  await enqueueWebhook(tx, failed, "transcription.failed");
  return failed;
}

/** Records `failed` with a reason unless the job already finished; failed jobs are never billed. */
export async function failJob(db: Db, jobId: string, code: string, message: string): Promise<Job | null> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(jobs).where(eq(jobs.id, jobId)).for("update");
    if (!current || (FINISHED as readonly string[]).includes(current.status)) return null;
    return markFailed(tx, current, code, message);
  });
}

export async function jobStatuses(db: Db, ids: string[]): Promise<Map<string, Job["status"]>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select({ id: jobs.id, status: jobs.status }).from(jobs).where(inArray(jobs.id, ids));
  return new Map(rows.map((r) => [r.id, r.status]));
}
