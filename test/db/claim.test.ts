import { and, asc, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/client.js";
import * as schema from "../../db/schema.js";
import { jobs, type Job } from "../../db/schema.js";
import { databaseKinds, testDatabase, type TestDatabase } from "../support/database.js";
import { insertApiKey, insertJob } from "./fixtures.js";

// The worker's claim: lock the oldest queued job nobody else holds and mark it processing.
async function claimNextJob(db: Db, beforeCommit?: () => Promise<void>): Promise<Job | undefined> {
  return db.transaction(async (tx) => {
    const [candidate] = await tx
      .select({ id: jobs.id })
      .from(jobs)
      .where(eq(jobs.status, "queued"))
      .orderBy(asc(jobs.createdAt), asc(jobs.id))
      .limit(1)
      .for("update", { skipLocked: true });
    if (!candidate) return undefined;
    const [claimed] = await tx
      .update(jobs)
      .set({ status: "processing", startedAt: new Date() })
      .where(and(eq(jobs.id, candidate.id), eq(jobs.status, "queued")))
      .returning();
    await beforeCommit?.();
    return claimed;
  });
}

describe.each(databaseKinds)("claiming queued jobs on %s", (kind) => {
  let database: TestDatabase;
  let apiKeyId: string;
  beforeAll(async () => {
    database = await testDatabase(kind);
    apiKeyId = (await insertApiKey(database.db)).id;
  });
  afterAll(() => database?.cleanup());
  beforeEach(async () => {
    await database.db.update(jobs).set({ status: "canceled" }).where(eq(jobs.status, "queued"));
  });

  it("hands each queued job to exactly one of many concurrent claimers", async () => {
    const queued = await Promise.all([1, 2, 3].map(() => insertJob(database.db, apiKeyId)));
    // A second client, as a second worker process would have.
    const other = postgres(database.url, { max: 4, onnotice: () => undefined });
    const otherDb: Db = drizzle(other, { schema });
    try {
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => claimNextJob(i % 2 ? database.db : otherDb)),
      );
      const claimedIds = claims.flatMap((job) => (job ? [job.id] : []));
      expect(claimedIds.sort()).toEqual(queued.map((job) => job.id).sort());
      const rows = await database.db.select().from(jobs).where(inArray(jobs.id, claimedIds));
      expect(rows.every((row) => row.status === "processing")).toBe(true);
    } finally {
      await other.end();
    }
  });
});

describe("FOR UPDATE SKIP LOCKED on a real server", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await testDatabase("postgres");
  });
  afterAll(() => database?.cleanup());

  it("skips the row another open transaction holds instead of waiting for it", async () => {
    const key = await insertApiKey(database.db);
    const only = await insertJob(database.db, key.id);
    let holding!: () => void;
    const firstHoldsLock = new Promise<void>((resolve) => (holding = resolve));
    let letGo!: () => void;
    const secondFinished = new Promise<void>((resolve) => (letGo = resolve));

    const first = claimNextJob(database.db, async () => {
      holding();
      await secondFinished; // keep the row locked while the second claimer looks
    });
    await firstHoldsLock;
    const startedAt = Date.now();
    const second = await claimNextJob(database.db);
    const secondTookMs = Date.now() - startedAt;
    letGo();

    expect(second).toBeUndefined();
    expect(secondTookMs).toBeLessThan(5_000);
    expect((await first)?.id).toBe(only.id);
  });
});
