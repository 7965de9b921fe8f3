import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalSqs, type LocalSqs } from "../../dev/sqs-emulator.js";
import { startEdgeServer, type EdgeServer } from "../../edge/node.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import { startWorker, type RunningWorker } from "../../gpu-worker/main.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { parseServiceConfig, type ServiceConfig, type ServiceConfigInput } from "../../shared/config.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { testDatabase, type DatabaseKind, type TestDatabase } from "./database.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local HTTP receiver for webhooks; `respond` decides each answer (default 200). */
export async function webhookReceiver(respond: (n: number) => number = () => 200, port = 0): Promise<{ url: string; received: ReceivedHook[]; close(): Promise<void> }> {
  const received: ReceivedHook[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.statusCode = respond(received.length);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const bound = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${bound}/hooks`, received, close: () => new Promise((r) => server.close(() => r())) };
}

export interface Stack {
  config: ServiceConfig;
  database: TestDatabase;
  sqs: LocalSqs;
  edge: EdgeServer;
  worker: RunningWorker;
  apiKey: string;
  webhookSecret: string;
  blobDir: string;
  request(path: string, init?: RequestInit): Promise<Response>;
  waitFor(jobId: string, until?: (job: { status: string }) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** The whole pipeline on real parts: Postgres or PGlite, the SQS emulator, filesystem blobs, edge and worker. */
export async function startStack(kind: DatabaseKind, overrides: ServiceConfigInput = {}, logger: Logger = silentLogger): Promise<Stack> {
  const config = parseServiceConfig({
    server: { port: 0 },
    network: { allowPrivateTargets: ["127.0.0.1"] },
    queue: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 30 },
    batching: { maxWaitMs: 50 },
    webhooks: { pollIntervalMs: 100, scheduleSeconds: [0, 0.2, 0.5, 1, 2], jitter: 0 },
    ...overrides,
  });
  const database = await testDatabase(kind);
  const sqs = await startLocalSqs({ visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds, maxReceiveCount: config.queue.maxReceiveCount });
  const queue = sqsJobQueue({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint });
  const blobDir = await mkdtemp(join(tmpdir(), "stack-blobs-"));
  const blobs = new FsBlobStore(blobDir);
  const { key: apiKey, record } = await createApiKey(database.db, { name: "e2e" });
  const edge = await startEdgeServer({ config, database, blobs, queue, logger });
  const worker = await startWorker({ config, database, blobs, queue, logger });
  const request = (path: string, init: RequestInit = {}) =>
    fetch(edge.url + path, { ...init, headers: { Authorization: `Bearer ${apiKey}`, ...(init.headers ?? {}) } });
  return {
    config,
    database,
    sqs,
    edge,
    worker,
    apiKey,
    webhookSecret: record.webhookSecret,
    blobDir,
    request,
    async waitFor(jobId, until = (j) => ["completed", "failed", "canceled"].includes(j.status), timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let job: Record<string, unknown> & { status: string };
        try {
          job = (await (await request(`/v1/transcriptions/${jobId}`)).json()) as typeof job;
        } catch (error) {
          // A kept-alive socket the server has just closed: poll again, as any client of a GET would.
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        if (until(job)) return job;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      await worker.stop();
      await edge.close();
      await sqs.stop();
      await database.cleanup();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}
