import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eq, sql } from "drizzle-orm";
import { createDatabase, type Database } from "../../db/client.js";
import { jobs, usageRecords, webhookDeliveries } from "../../db/schema.js";
import { startLocalSqs, type LocalSqs } from "../../dev/sqs-emulator.js";
import { startEdgeServer, type EdgeServer } from "../../edge/node.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import type { Qwen3AsrEngine } from "../../gpu-worker/engine/engine.js";
import { startWorker, type RunningWorker } from "../../gpu-worker/main.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { sqsJobQueue, type SqsJobQueue } from "../../shared/adapters/sqs.js";
import { parseServiceConfig, type ServiceConfig, type ServiceConfigInput } from "../../shared/config.js";
import { createLogger, silentLogger } from "../../shared/logger.js";
import { queuedMessages } from "./sqs-depth.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const TINY_MODEL = join(ROOT, "test", "fixtures", "models", "tiny-random");

/** Short timeouts everywhere, so faults heal within a test's time. */
export const FAULT_CONFIG: ServiceConfigInput = {
  server: { port: 0 },
  model: { dir: TINY_MODEL },
  network: { allowPrivateTargets: ["127.0.0.1"] },
  queue: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 4, maxReceiveCount: 3 },
  batching: { maxWaitMs: 20 },
  webhooks: { pollIntervalMs: 100, scheduleSeconds: [0, 0.5, 1, 2, 3, 5, 8], jitter: 0, timeoutMs: 2000 },
  sweeper: { intervalSeconds: 1, queuedStaleSeconds: 3, processingStaleSeconds: 8, maxAttempts: 5 },
  rateLimits: { requestsPerMinute: 10_000 },
};

/** `seconds` of 16 kHz 16-bit speech (the committed sample, repeated) as WAV bytes. */
export function speechWav(seconds: number): Uint8Array {
  const src = readFileSync(join(ROOT, "test", "fixtures", "audio", "speech-long.wav"));
  const pcm = src.subarray(44);
  const n = Math.round(seconds * 16000) * 2;
  const out = new Uint8Array(44 + n);
  out.set(src.subarray(0, 44));
  for (let i = 0; i < n; i += pcm.length) out.set(pcm.subarray(0, Math.min(pcm.length, n - i)), 44 + i);
  const view = new DataView(out.buffer);
  view.setUint32(4, 36 + n, true);
  view.setUint32(40, n, true);
  return out;
}

export interface FaultStack {
  config: ServiceConfig;
  database: Database;
  sqs: LocalSqs;
  queue: SqsJobQueue;
  blobDir: string;
  edge: EdgeServer;
  apiKey: string;
  webhookSecret: string;
  upload(bytes: Uint8Array, fields?: Record<string, string>): Promise<Response>;
  /** Starts a worker in this process (optionally with a wrapped engine). */
  startWorker(engine?: Qwen3AsrEngine): Promise<RunningWorker>;
  /** Starts a worker as a separate process (so it can be killed); its log lines are collected. */
  spawnWorker(): WorkerProcess;
  restartSqs(): Promise<void>;
  counts(): Promise<{ submitted: number; completed: number; failed: number; billed: number; webhooksDelivered: number }>;
  waitUntil(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void>;
  /** Messages in the job queue, visible, in flight or delayed: 0 once every delivery has been acknowledged. */
  queuedMessages(): Promise<number>;
  stop(): Promise<void>;
}

export interface WorkerProcess {
  child: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export async function startFaultStack(databaseUrl: string, overrides: ServiceConfigInput = {}): Promise<FaultStack> {
  const config = parseServiceConfig({ ...FAULT_CONFIG, ...overrides });
  const database = await createDatabase({ url: databaseUrl });
  let sqs = await startLocalSqs({ visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds, maxReceiveCount: config.queue.maxReceiveCount });
  const sqsPort = Number(new URL(sqs.endpoint).port);
  const queue = sqsJobQueue({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint });
  const blobDir = mkdtempSync(join(tmpdir(), "fault-blobs-"));
  const blobs = new FsBlobStore(blobDir);
  const { key: apiKey, record } = await createApiKey(database.db, { name: "faults" });
  const edge = await startEdgeServer({ config, database, blobs, queue, logger: silentLogger });
  const workers: RunningWorker[] = [];
  const processes: WorkerProcess[] = [];
  const configFile = join(blobDir, "..", `fault-config-${process.pid}-${Date.now()}.json`);
  writeFileSync(configFile, JSON.stringify({ ...FAULT_CONFIG, ...overrides }));

  const stack: FaultStack = {
    config,
    database,
    get sqs() {
      return sqs;
    },
    queue,
    blobDir,
    edge,
    apiKey,
    webhookSecret: record.webhookSecret,
    upload(bytes, fields = {}) {
      const form = new FormData();
      form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "audio/wav" }), "audio.wav");
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      return fetch(`${edge.url}/v1/transcriptions`, { method: "POST", headers: { Authorization: `Bearer ${apiKey}` }, body: form });
    },
    async startWorker(engine) {
      // DEBUG_FAULTS=1 prints the in-process worker's log lines.
      const logger = process.env.DEBUG_FAULTS ? createLogger({ service: "gpu-worker" }) : silentLogger;
      const worker = await startWorker({ config, database, blobs, queue, logger, engine });
      workers.push(worker);
      return worker;
    },
    spawnWorker() {
      const logs: string[] = [];
      const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "gpu-worker", "main.ts")], {
        cwd: ROOT,
        env: {
          ...process.env,
          CONFIG_FILE: configFile,
          DATABASE_URL: database.url,
          SQS_QUEUE_URL: sqs.queueUrl,
          SQS_ENDPOINT: sqs.endpoint,
          BLOB_STORE: "fs",
          BLOB_DIR: blobDir,
          LOG_LEVEL: "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const collect = (chunk: Buffer) => logs.push(...chunk.toString().split("\n").filter(Boolean));
      child.stdout?.on("data", collect);
      child.stderr?.on("data", collect);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      const proc: WorkerProcess = {
        child,
        logs,
        exited,
        async waitForLog(pattern, timeoutMs = 60_000) {
          const deadline = Date.now() + timeoutMs;
          while (!logs.some((l) => pattern.test(l))) {
            if (Date.now() > deadline) throw new Error(`worker never logged ${pattern}; last lines:\n${logs.slice(-10).join("\n")}`);
            if (child.exitCode !== null) throw new Error(`worker exited (${child.exitCode}) before logging ${pattern}:\n${logs.slice(-10).join("\n")}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
      };
      processes.push(proc);
      return proc;
    },
    async restartSqs() {
      await sqs.stop();
      sqs = await startLocalSqs({ port: sqsPort, visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds, maxReceiveCount: config.queue.maxReceiveCount });
    },
    async counts() {
      const db = database.db;
      const [row] = await db
        .select({
          submitted: sql<number>`count(*)::int`,
          completed: sql<number>`count(*) filter (where ${jobs.status} = 'completed')::int`,
          failed: sql<number>`count(*) filter (where ${jobs.status} = 'failed')::int`,
        })
        .from(jobs);
      const [billed] = await db.select({ n: sql<number>`count(*)::int` }).from(usageRecords);
      const [hooks] = await db.select({ n: sql<number>`count(*)::int` }).from(webhookDeliveries).where(eq(webhookDeliveries.status, "succeeded"));
      return { ...row, billed: billed.n, webhooksDelivered: hooks.n };
    },
    async waitUntil(predicate, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          if (await predicate()) return;
        } catch {
          // a fault may be in progress: keep polling
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    queuedMessages() {
      return queuedMessages(sqs);
    },
    async stop() {
      for (const p of processes) if (p.child.exitCode === null) p.child.kill("SIGKILL");
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      await edge.close();
      await sqs.stop();
      await database.close();
      rmSync(blobDir, { recursive: true, force: true });
      rmSync(configFile, { force: true });
    },
  };
  return stack;
}

/**
 * An engine whose batches wait until `gate` resolves: a job stays in the engine for exactly as long as a test
 * needs (until a second worker has claimed it, say), instead of for a delay that is hoped to be long enough.
 */
export function gatedEngine(engine: Qwen3AsrEngine, gate: Promise<void>): Qwen3AsrEngine {
  return new Proxy(engine, {
    get(target, property, receiver) {
      if (property === "transcribe") {
        return async (...args: Parameters<Qwen3AsrEngine["transcribe"]>) => {
          await gate;
          return target.transcribe(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** An engine that takes `delayMs` longer per batch: work that outlasts visibility timeouts and leaves time to act. */
export function slowEngine(engine: Qwen3AsrEngine, delayMs: number): Qwen3AsrEngine {
  return new Proxy(engine, {
    get(target, property, receiver) {
      if (property === "transcribe") {
        return async (...args: Parameters<Qwen3AsrEngine["transcribe"]>) => {
          await new Promise((r) => setTimeout(r, delayMs));
          return target.transcribe(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
