import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiKeys,
  idempotencyKeys,
  jobChunks,
  jobs,
  outbox,
  transcripts,
  usageRecords,
  webhookAttempts,
  webhookDeliveries,
} from "../../db/schema.js";
import { databaseKinds, testDatabase, type TestDatabase } from "../support/database.js";
import { insertApiKey, insertJob } from "./fixtures.js";

// drizzle wraps driver errors ("Failed query: …"); the constraint's name is on the cause.
async function violation(promise: Promise<unknown>): Promise<string> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, "expected the database to refuse").toBeInstanceOf(Error);
  const cause = (error as Error).cause ?? error;
  return String((cause as { constraint_name?: string }).constraint_name ?? (cause as Error).message);
}

describe.each(databaseKinds)("constraints on %s", (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await testDatabase(kind);
  });
  afterAll(() => database?.cleanup());

  it("bills a job once: a second usage row fails, or is skipped with ON CONFLICT DO NOTHING", async () => {
    const { db } = database;
    const key = await insertApiKey(db);
    const job = await insertJob(db, key.id);
    const usage = { jobId: job.id, apiKeyId: key.id, billableSeconds: 15, audioSeconds: 12.3 };
    await db.insert(usageRecords).values(usage);
    expect(await violation(db.insert(usageRecords).values({ ...usage, billableSeconds: 99 }))).toBe(
      "usage_records_job_id_unique",
    );
    const skipped = await db
      .insert(usageRecords)
      .values(usage)
      .onConflictDoNothing({ target: usageRecords.jobId })
      .returning();
    expect(skipped).toEqual([]);
    const billed = await db.select().from(usageRecords).where(eq(usageRecords.jobId, job.id));
    expect(billed.map((row) => row.billableSeconds)).toEqual([15]);
  });

  it("enqueues a webhook event once per job", async () => {
    const { db } = database;
    const key = await insertApiKey(db);
    const job = await insertJob(db, key.id);
    const delivery = {
      jobId: job.id,
      eventType: "transcription.completed",
      url: "https://example.com/hook",
      payload: { type: "transcription.completed", data: { id: job.id } },
    };
    await db.insert(webhookDeliveries).values({ ...delivery, messageId: `msg_${job.id}_1` });
    expect(await violation(db.insert(webhookDeliveries).values({ ...delivery, messageId: `msg_${job.id}_2` }))).toBe(
      "webhook_deliveries_job_event_unique",
    );
    const again = await db
      .insert(webhookDeliveries)
      .values({ ...delivery, messageId: `msg_${job.id}_3` })
      .onConflictDoNothing({ target: [webhookDeliveries.jobId, webhookDeliveries.eventType] })
      .returning();
    expect(again).toEqual([]);
    await db.insert(webhookDeliveries).values({ ...delivery, eventType: "transcription.failed", messageId: `m_${job.id}` });
  });

  it("deletes a job's dependent rows with it, but keeps the idempotency answer", async () => {
    const { db } = database;
    const key = await insertApiKey(db);
    const job = await insertJob(db, key.id);
    await db.insert(jobChunks).values({ jobId: job.id, chunkIndex: 0, startSeconds: 0, endSeconds: 30, text: "hi" });
    await db.insert(transcripts).values({ jobId: job.id, text: "hi", segments: [{ id: 0, start: 0, end: 1, text: "hi" }] });
    const [delivery] = await db
      .insert(webhookDeliveries)
      .values({ jobId: job.id, eventType: "e", messageId: `msg_${job.id}`, url: "https://x.test", payload: {} })
      .returning();
    await db.insert(webhookAttempts).values({ deliveryId: delivery.id, statusCode: 500, durationMs: 12 });
    await db.insert(outbox).values({ jobId: job.id, payload: { jobId: job.id } });
    await db.insert(idempotencyKeys).values({
      apiKeyId: key.id,
      key: "idem-1",
      requestHash: "h",
      jobId: job.id,
      responseStatus: 202,
      responseBody: { id: job.id },
      expiresAt: new Date(Date.now() + 86_400_000),
    });

    await db.delete(jobs).where(eq(jobs.id, job.id));

    const left = await database.sql<{ table: string; count: number }[]>`
      select 'job_chunks' as table, count(*)::int as count from job_chunks where job_id = ${job.id}
      union all select 'transcripts', count(*)::int from transcripts where job_id = ${job.id}
      union all select 'webhook_deliveries', count(*)::int from webhook_deliveries where job_id = ${job.id}
      union all select 'webhook_attempts', count(*)::int from webhook_attempts where delivery_id = ${delivery.id}
      union all select 'outbox', count(*)::int from outbox where job_id = ${job.id}`;
    expect(left.every((row) => row.count === 0), JSON.stringify(left)).toBe(true);
    const [idempotency] = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, "idem-1"));
    expect(idempotency.jobId).toBeNull();
    expect(idempotency.responseBody).toEqual({ id: job.id });
  });

  it("refuses to delete a billed job or a key that has jobs", async () => {
    const { db } = database;
    const key = await insertApiKey(db);
    const job = await insertJob(db, key.id);
    await db.insert(usageRecords).values({ jobId: job.id, apiKeyId: key.id, billableSeconds: 1, audioSeconds: 1 });
    expect(await violation(db.delete(jobs).where(eq(jobs.id, job.id)))).toBe("usage_records_job_id_jobs_id_fk");
    expect(await violation(db.delete(apiKeys).where(eq(apiKeys.id, key.id)))).toBe("jobs_api_key_id_api_keys_id_fk");
  });

  it("checks statuses, fractions, counters and key formats", async () => {
    const { db } = database;
    const key = await insertApiKey(db);
    const job = await insertJob(db, key.id);
    const setJob = (fields: Record<string, unknown>) =>
      db.update(jobs).set(fields).where(eq(jobs.id, job.id));
    expect(await violation(setJob({ status: sql`'done'` }))).toBe("jobs_status_valid");
    expect(await violation(setJob({ progress: 1.5 }))).toBe("jobs_progress_fraction");
    expect(await violation(setJob({ chunksTotal: 2, chunksDone: 3 }))).toBe("jobs_chunks_in_range");
    expect(await violation(db.insert(jobChunks).values({ jobId: job.id, chunkIndex: 0, startSeconds: 5, endSeconds: 1, text: "" }))).toBe(
      "job_chunks_time_order",
    );
    const badKey = { name: "k", keyPrefix: "sk_", keyHash: "not-a-hash", webhookSecret: "whsec_x" };
    expect(await violation(db.insert(apiKeys).values(badKey))).toBe("api_keys_key_hash_sha256");
    expect(
      await violation(db.insert(apiKeys).values({ ...badKey, keyHash: key.keyHash })),
    ).toBe("api_keys_key_hash_unique");
  });

  it("keeps a redelivered job's finished chunks: one row per (job, chunk)", async () => {
    const { db } = database;
    const key = await insertApiKey(db);
    const job = await insertJob(db, key.id, { chunksTotal: 2 });
    const chunk = { jobId: job.id, chunkIndex: 1, startSeconds: 30, endSeconds: 60, text: "second" };
    await db.insert(jobChunks).values(chunk);
    const redone = await db.insert(jobChunks).values({ ...chunk, text: "again" }).onConflictDoNothing().returning();
    expect(redone).toEqual([]);
    const rows = await db.query.jobs.findFirst({ where: eq(jobs.id, job.id), with: { chunks: true } });
    expect(rows?.chunks.map((row) => row.text)).toEqual(["second"]);
  });

  it("stamps updated_at on update and round-trips timestamptz and jsonb", async () => {
    const { db } = database;
    const key = await insertApiKey(db);
    const job = await insertJob(db, key.id);
    const startedAt = new Date("2026-01-02T03:04:05.678Z");
    const [updated] = await db
      .update(jobs)
      .set({ status: "processing", startedAt })
      .where(eq(jobs.id, job.id))
      .returning();
    expect(updated.startedAt).toEqual(startedAt);
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(job.updatedAt.getTime());
    expect(updated.status).toBe("processing");
  });
});
