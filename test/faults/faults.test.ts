/**
 * Fault injection on the real stack: real PostgreSQL (the machine's, or a private instance that is stopped and
 * restarted), the SQS emulator, worker processes that are killed. Each scenario ends by counting jobs
 * submitted, completed, failed, billed and webhooks delivered. `npm run test:faults` runs only these.
 */
import { createServer } from "node:net";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { jobs, webhookDeliveries, workerHeartbeats } from "../../db/schema.js";
import { Qwen3AsrEngine } from "../../gpu-worker/engine/engine.js";
import { jobMessage } from "../../shared/queue.js";
import { testDatabase, type TestDatabase } from "../support/database.js";
import { FAULT_CONFIG, gatedEngine, slowEngine, speechWav, startFaultStack, TINY_MODEL, type FaultStack } from "../support/fault-stack.js";
import { privatePostgres, type PrivatePostgres } from "../support/private-postgres.js";
import { webhookReceiver } from "../support/stack.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function stackOnTestDatabase(overrides = {}): Promise<FaultStack> {
  const database: TestDatabase = await testDatabase("postgres");
  cleanups.push(() => database.cleanup());
  const stack = await startFaultStack(database.url, overrides);
  cleanups.push(() => stack.stop());
  return stack;
}

async function submit(stack: FaultStack, n: number, seconds: number, fields: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await stack.upload(speechWav(seconds + i * 0.37), fields);
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

const allFinished = (stack: FaultStack, n: number) => async () => {
  const c = await stack.counts();
  return c.completed + c.failed === n;
};

function report(name: string, counts: Awaited<ReturnType<FaultStack["counts"]>>): void {
  console.log(`fault scenario "${name}": ${JSON.stringify(counts)}`);
}

describe("fault injection", () => {
  it("1. kill -9 of a worker mid-batch: a new worker completes every job once, billed once", async () => {
    const stack = await stackOnTestDatabase();
    const first = stack.spawnWorker();
    await first.waitForLog(/worker started/);
    const ids = await submit(stack, 6, 45);
    await stack.waitUntil(async () => first.logs.some((l) => /job started/.test(l)), 60_000, "a job to start");
    first.child.kill("SIGKILL");
    await first.exited;
    const second = stack.spawnWorker();
    await stack.waitUntil(allFinished(stack, ids.length), 180_000, "every job to finish after the crash");
    const counts = await stack.counts();
    report("kill -9", counts);
    expect(counts).toMatchObject({ submitted: 6, completed: 6, failed: 0, billed: 6 });
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 300_000);

  it("2. PostgreSQL restarts while jobs flow: the edge answers 503 meanwhile, then everything completes", async () => {
    const pg: PrivatePostgres = await privatePostgres();
    cleanups.push(() => pg.destroy());
    const stack = await startFaultStack(pg.url);
    cleanups.push(() => stack.stop());
    await stack.startWorker(slowEngine(await Qwen3AsrEngine.load(TINY_MODEL), 300));
    const ids = await submit(stack, 4, 20);
    await pg.stop();
    const during = await fetch(`${stack.edge.url}/v1/transcriptions`, { headers: { Authorization: `Bearer ${stack.apiKey}` } });
    const duringBody = await during.text();
    expect(during.status, duringBody).toBe(503);
    expect(during.headers.get("retry-after"), `${duringBody} ${JSON.stringify([...during.headers])}`).toBeTruthy();
    const uploadDuring = await stack.upload(speechWav(3));
    expect(uploadDuring.status).toBe(503);
    await new Promise((r) => setTimeout(r, 2000));
    await pg.start();
    await stack.waitUntil(allFinished(stack, ids.length), 120_000, "every job to finish after the restart");
    const counts = await stack.counts();
    report("PostgreSQL restart", counts);
    expect(counts).toMatchObject({ submitted: 4, completed: 4, billed: 4 });
  }, 240_000);

  it("3. the SQS emulator restarts and loses its messages: the sweeper re-enqueues, every job completes", async () => {
    const stack = await stackOnTestDatabase();
    const ids = await submit(stack, 3, 5); // messages sent, no worker yet
    await stack.restartSqs(); // queue state is gone
    await stack.startWorker();
    await stack.waitUntil(allFinished(stack, ids.length), 120_000, "the sweeper to recover every job");
    const counts = await stack.counts();
    report("SQS restart", counts);
    const failures = await stack.database.db.select({ id: jobs.id, code: jobs.errorCode, message: jobs.errorMessage }).from(jobs).where(eq(jobs.status, "failed"));
    expect(failures).toEqual([]);
    expect(counts).toMatchObject({ submitted: 3, completed: 3, billed: 3 });
  }, 180_000);

  it("4. two workers take the same job (duplicate delivery while it runs): one completion, one bill, one webhook", async () => {
    const hooks = await webhookReceiver();
    cleanups.push(() => hooks.close());
    // prefetch 1: a worker holding the job receives nothing more, so a duplicate can only go to the other one.
    const stack = await stackOnTestDatabase({ queue: { ...FAULT_CONFIG.queue, prefetch: 1 } });
    const engine = await Qwen3AsrEngine.load(TINY_MODEL);
    // Both workers hold the job in the engine until the test has seen both claims: no delay to hope is long enough.
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    cleanups.push(async () => open());
    await stack.startWorker(gatedEngine(engine, gate));
    const [id] = await submit(stack, 1, 4, { webhook_url: hooks.url });
    const attempts = async () => (await stack.database.db.select({ n: jobs.attempts }).from(jobs).where(eq(jobs.id, id)))[0].n;
    await stack.waitUntil(async () => (await attempts()) === 1, 60_000, "the first worker to claim the job");
    // At-least-once: the same message delivered again while the first delivery is still being worked on.
    await stack.startWorker(gatedEngine(engine, gate));
    await stack.waitUntil(
      async () => {
        if ((await attempts()) >= 2) return true;
        await stack.queue.send(jobMessage(id));
        return false;
      },
      60_000,
      "a second worker to claim the same job",
    );
    open();
    await stack.waitUntil(allFinished(stack, 1), 60_000, "the job to finish");
    // Every duplicate acknowledged and the webhook's delivery finished: nothing is left that could bill or send.
    await stack.waitUntil(
      async () => (await stack.queuedMessages()) === 0 && (await stack.counts()).webhooksDelivered >= 1,
      60_000,
      "the queue to drain and the webhook to be delivered",
    );
    expect(await attempts()).toBeGreaterThanOrEqual(2); // it really was claimed twice
    const counts = await stack.counts();
    report("duplicate delivery", counts);
    expect(counts).toMatchObject({ submitted: 1, completed: 1, billed: 1, webhooksDelivered: 1 });
    expect(hooks.received).toHaveLength(1);
  }, 120_000);

  it("5. a webhook receiver that is down for a while: deliveries resume, every event arrives signed", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const stack = await stackOnTestDatabase();
    await stack.startWorker();
    const ids = await submit(stack, 3, 3, { webhook_url: `http://127.0.0.1:${port}/hooks` });
    await stack.waitUntil(allFinished(stack, ids.length), 60_000, "the jobs to finish");
    // Every event has been refused at least once before the receiver comes up.
    await stack.waitUntil(
      async () => {
        const rows = await stack.database.db.select({ attempts: webhookDeliveries.attempts }).from(webhookDeliveries);
        return rows.length === 3 && rows.every((r) => r.attempts >= 1);
      },
      60_000,
      "a refused attempt for every event",
    );
    const hooks = await webhookReceiver(() => 200, port);
    cleanups.push(() => hooks.close());
    // Received is not yet recorded: the delivery is `succeeded` only once the dispatcher has the 200 and writes it.
    await stack.waitUntil(
      async () => new Set(hooks.received.map((h) => h.headers["webhook-id"])).size === 3 && (await stack.counts()).webhooksDelivered === 3,
      60_000,
      "three events delivered and recorded",
    );
    for (const hook of hooks.received) {
      const payload = new Webhook(stack.webhookSecret).verify(hook.body, {
        "webhook-id": String(hook.headers["webhook-id"]),
        "webhook-timestamp": String(hook.headers["webhook-timestamp"]),
        "webhook-signature": String(hook.headers["webhook-signature"]),
      }) as { data: { id: string } };
      expect(ids).toContain(payload.data.id);
    }
    const counts = await stack.counts();
    report("webhook receiver down", counts);
    expect(counts).toMatchObject({ submitted: 3, completed: 3, webhooksDelivered: 3 });
  }, 120_000);

  it("6. 200 concurrent uploads with a slow engine: only 202, 429 or 503, memory bounded", async () => {
    const stack = await stackOnTestDatabase({ rateLimits: { requestsPerMinute: 150 } });
    await stack.startWorker(slowEngine(await Qwen3AsrEngine.load(TINY_MODEL), 200));
    const body = speechWav(2);
    global.gc?.();
    const before = process.memoryUsage().rss;
    const statuses = await Promise.all(Array.from({ length: 200 }, () => stack.upload(body).then(async (r) => (await r.arrayBuffer(), r.status))));
    const grown = process.memoryUsage().rss - before;
    const tally = statuses.reduce<Record<number, number>>((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});
    console.log(`200 concurrent uploads: ${JSON.stringify(tally)}; RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB`);
    for (const s of statuses) expect([202, 429, 503]).toContain(s);
    expect(tally[202]).toBeGreaterThan(0);
    expect(tally[429]).toBeGreaterThan(0);
    expect(grown).toBeLessThan(512 * 2 ** 20);
    const counts = await stack.counts();
    expect(counts.submitted).toBe(tally[202]);
  }, 180_000);

  it("poison messages end in the dead-letter queue or as a failed job, and never block the queue", async () => {
    const stack = await stackOnTestDatabase();
    // The worker starts only once every poison message and the garbage blob are in place: a worker already
    // polling could read the upload's good audio before it is overwritten, and complete the job.
    await stack.queue.send({ v: 1, jobId: "tr_does_not_exist", enqueuedAt: new Date().toISOString() });
    const raw = (await import("@aws-sdk/client-sqs")).SendMessageCommand;
    const { createSqsClient } = await import("../../shared/adapters/sqs.js");
    const client = createSqsClient({ queueUrl: stack.sqs.queueUrl, endpoint: stack.sqs.endpoint });
    await client.send(new raw({ QueueUrl: stack.sqs.queueUrl, MessageBody: "{not json" }));
    // Undecodable audio: the stored blob is replaced by garbage after validation.
    const res = await stack.upload(speechWav(2));
    const { id } = (await res.json()) as { id: string };
    const [row] = await stack.database.db.select().from(jobs).where(eq(jobs.id, id));
    const { writeFileSync } = await import("node:fs");
    writeFileSync(`${stack.blobDir}/${row.audioKey}`, new Uint8Array(4000).fill(7));
    await stack.startWorker();
    // A healthy job behind them still completes.
    const [ok] = await submit(stack, 1, 2);
    await stack.waitUntil(allFinished(stack, 2), 60_000, "both jobs to finish");
    const [bad] = await stack.database.db.select().from(jobs).where(eq(jobs.id, id));
    expect(bad.status).toBe("failed");
    // audio_changed: the worker sees the garbage is not the size of the file that was accepted.
    expect(bad.errorCode).toMatch(/unsupported_format|undecodable_audio|audio_changed/);
    const [good] = await stack.database.db.select().from(jobs).where(eq(jobs.id, ok));
    expect(good.status).toBe("completed");
    const { SqsJobQueue } = await import("../../shared/adapters/sqs.js");
    const dlq = new SqsJobQueue(client, stack.sqs.deadLetterQueueUrl);
    const dead: string[] = [];
    await stack.waitUntil(
      async () => {
        for (const m of await dlq.receive(10, 1)) dead.push(m.body);
        return dead.length >= 2;
      },
      60_000,
      "both poison messages in the dead-letter queue",
    );
    expect(dead.some((b) => b.includes("tr_does_not_exist"))).toBe(true);
    expect(dead).toContain("{not json");
  }, 120_000);

  it("graceful shutdown: SIGTERM releases unfinished work at once and exits in time", async () => {
    const stack = await stackOnTestDatabase({ queue: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 120, maxReceiveCount: 3 } });
    const first = stack.spawnWorker();
    await first.waitForLog(/worker started/);
    const ids = await submit(stack, 3, 60);
    await stack.waitUntil(async () => first.logs.some((l) => /job started/.test(l)), 60_000, "a job to start");
    first.child.kill("SIGTERM");
    // Exit code 0: the worker's own shutdownGraceMs deadline (which exits 1) did not fire. No wall-clock
    // assertion here: on a loaded machine process start-up and teardown would make it flaky.
    expect(await first.exited).toBe(0);
    // Its heartbeat said it was stopping, then that it stopped: the dashboard shows a clean stop, not a crash.
    const [beat] = await stack.database.db.select().from(workerHeartbeats);
    expect(beat.stoppingSince).not.toBeNull();
    expect(beat.stoppedAt).not.toBeNull();
    // Visibility is 120 s: a second worker finishing well before that proves the messages were handed back.
    const second = stack.spawnWorker();
    await stack.waitUntil(allFinished(stack, ids.length), 90_000, "the released jobs to finish on another worker");
    const counts = await stack.counts();
    report("graceful shutdown", counts);
    expect(counts).toMatchObject({ submitted: 3, completed: 3, billed: 3 });
    second.child.kill("SIGTERM");
    await second.exited;
  }, 240_000);
});
