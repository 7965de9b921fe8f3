/**
 * Runs one long job on a fresh worker process and measures it: wall time between the job's start and its
 * completion, and the worker's peak resident memory (VmHWM). Used by `npm run bench:long` and the long-audio
 * memory test, so both measure the same way.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import { createDatabase, type Database } from "../db/client.js";
import { jobs } from "../db/schema.js";
import { createApiKey } from "../edge/store/api-keys.js";
import { newJobId } from "../edge/store/jobs.js";
import { FsBlobStore } from "../shared/adapters/fs-blob-store.js";
import { sqsJobQueue } from "../shared/adapters/sqs.js";
import { jobMessage } from "../shared/queue.js";
import { startLocalSqs, type LocalSqs } from "./sqs-emulator.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** 16 kHz 16-bit mono WAV of `seconds`, looping `pcm`. */
export function loopedWav(pcm: Float32Array, seconds: number): Uint8Array {
  const n = Math.round(seconds * 16000);
  const bytes = new Uint8Array(44 + 2 * n);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, s: string) => [...s].forEach((ch, i) => (bytes[at + i] = ch.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + 2 * n, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, 16000, true);
  view.setUint32(28, 32000, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) view.setInt16(44 + 2 * i, Math.max(-32768, Math.min(32767, Math.round(pcm[i % pcm.length] * 32767))), true);
  return bytes;
}

export interface LongRunResult {
  seconds: number;
  wallSeconds: number;
  audioSecondsPerSecond: number;
  peakRssBytes: number;
  pcmBytes: number;
  chunks: number | null;
}

export interface LongRunHarness {
  run(wav: Uint8Array, seconds: number): Promise<LongRunResult>;
  close(): Promise<void>;
}

function peakRss(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * A fixed batch cap, as a GPU budget would impose: on CPU the 5 GiB budget never binds, and a batch of every
 * chunk of the job would make the peak follow the chunk count, not the audio held. 3 = the chunks of the
 * 1-minute job, so every length measured runs full batches and only the audio held differs.
 */
const LONG_RUN_MAX_BATCH = 3;

export async function longRunHarness(modelDir: string): Promise<LongRunHarness> {
  const dir = mkdtempSync(join(tmpdir(), "long-run-"));
  const database: Database = await createDatabase({ dataDir: join(dir, "pglite") });
  const sqs: LocalSqs = await startLocalSqs({ visibilityTimeoutSeconds: 10 });
  const queue = sqsJobQueue({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint });
  const blobs = new FsBlobStore(join(dir, "blobs"));
  const { record } = await createApiKey(database.db, { name: "long-run" });

  return {
    async run(wav, seconds) {
      const id = newJobId();
      const audioKey = `audio/${record.id}/${id}`;
      await blobs.put(audioKey, wav, "audio/wav");
      await database.db.insert(jobs).values({ id, apiKeyId: record.id, audioKey, audioBytes: wav.length, contentType: "audio/wav", durationSeconds: seconds });
      const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "gpu-worker", "main.ts")], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          SQS_QUEUE_URL: sqs.queueUrl,
          SQS_ENDPOINT: sqs.endpoint,
          BLOB_STORE: "fs",
          BLOB_DIR: join(dir, "blobs"),
          MODEL_DIR: modelDir,
          LOG_LEVEL: "warn",
          // Short leases: a long poll left open by the previous (killed) worker may swallow the next message
          // until its lease expires, as with real SQS.
          VISIBILITY_TIMEOUT_SECONDS: "10",
          MAX_BATCH: String(LONG_RUN_MAX_BATCH),
        },
        stdio: ["ignore", "ignore", "inherit"],
      });
      try {
        await queue.send(jobMessage(id));
        for (;;) {
          const [job] = await database.db.select().from(jobs).where(eq(jobs.id, id));
          if (job.status === "completed" || job.status === "failed") {
            const peakRssBytes = peakRss(child.pid as number);
            if (job.status === "failed") throw new Error(`job failed: ${job.errorCode} ${job.errorMessage}`);
            const wallSeconds = ((job.completedAt?.getTime() ?? 0) - (job.startedAt?.getTime() ?? 0)) / 1000;
            return {
              seconds,
              wallSeconds,
              audioSecondsPerSecond: seconds / wallSeconds,
              peakRssBytes,
              pcmBytes: Math.round(seconds * 16000) * 4,
              chunks: job.chunksTotal,
            };
          }
          if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
      }
    },
    async close() {
      await sqs.stop();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
