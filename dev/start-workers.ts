/**
 * `npm run start:workers`: the whole pipeline with the edge on workerd (Cloudflare Workers' runtime, through
 * wrangler's programmatic `wrangler dev`) instead of Node.
 *
 * - PostgreSQL: DATABASE_URL, or the embedded PGlite of `npm start` (./.data/pglite) served over the wire
 *   protocol; the Worker reaches it through Hyperdrive's local connection string;
 * - the SQS emulator (fauxqs), which also serves the S3 API: bucket `qwen3-asr-uploads` stands in for R2;
 * - the Worker stores audio through that S3 API (BLOB_STORE=s3), as the GPU worker reads it, and signs presigned
 *   upload URLs for it: wrangler's own local R2 is a private store no other process can read;
 * - the GPU worker in its own process (CPU engine on the model the repo ships), restarted if it dies;
 * - the API on http://127.0.0.1:8787 (PORT overrides). BOOTSTRAP_API_KEY and ADMIN_TOKEN as for `npm start`.
 *
 * The emulator keeps objects in memory and takes bodies up to 11 MiB, so uploads are capped at 10 MB here.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createDatabase } from "../db/client.js";
import { ensureApiKey } from "../edge/store/api-keys.js";
import { loadServiceConfig } from "../shared/config-file.js";
import { createLogger } from "../shared/logger.js";
import { DATA, ROOT, devApiKey, superviseWorker } from "./launcher.js";
import { startLocalSqs } from "./sqs-emulator.js";
import { startWorkersEdge } from "./workers-edge.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const BUCKET = "qwen3-asr-uploads";
/** Any key works with the emulator; production uses an R2 API token's (docs/deploy.md). */
const LOCAL_S3_KEY = "local";
/** Below the emulator's 11 MiB body limit. */
const LOCAL_MAX_UPLOAD_BYTES = "10000000";

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const logger = createLogger({ service: "launcher" });
  const config = loadServiceConfig();
  const modelDir = resolve(ROOT, config.model.dir);
  if (!existsSync(modelDir)) throw new Error(`model directory ${modelDir} does not exist (MODEL_DIR or model.dir in service.config.json)`);

  const database = await createDatabase(process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : { dataDir: join(DATA, "pglite") });
  const aws = await startLocalSqs({
    visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds,
    maxReceiveCount: config.queue.maxReceiveCount,
    buckets: [BUCKET],
  });
  const apiKey = devApiKey();
  await ensureApiKey(database.db, apiKey, "local development");

  const workerEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    SQS_QUEUE_URL: aws.queueUrl,
    SQS_ENDPOINT: aws.endpoint,
    BLOB_STORE: "s3",
    S3_BUCKET: BUCKET,
    S3_ENDPOINT: aws.endpoint,
    S3_REGION: "auto",
    S3_ACCESS_KEY_ID: LOCAL_S3_KEY,
    S3_SECRET_ACCESS_KEY: LOCAL_S3_KEY,
    MODEL_DIR: modelDir,
  };
  let stopping = false;
  const worker = superviseWorker(workerEnv, logger);

  const edge = await startWorkersEdge({
    port: config.server.port,
    databaseUrl: database.url,
    vars: {
      SQS_ENDPOINT: aws.endpoint,
      SQS_QUEUE_URL: aws.queueUrl,
      BLOB_STORE: "s3",
      R2_S3_ENDPOINT: aws.endpoint,
      R2_BUCKET_NAME: BUCKET,
      R2_ACCESS_KEY_ID: LOCAL_S3_KEY,
      R2_SECRET_ACCESS_KEY: LOCAL_S3_KEY,
      MAX_UPLOAD_BYTES: LOCAL_MAX_UPLOAD_BYTES,
      UPLOAD_MAX_BYTES: LOCAL_MAX_UPLOAD_BYTES,
      // The Worker's limits are variables (no config file on Workers): the same ones as the GPU worker's.
      MAX_DURATION_SECONDS: String(config.limits.maxDurationSeconds),
      MIN_DURATION_SECONDS: String(config.limits.minDurationSeconds),
      ...(process.env.ADMIN_TOKEN ? { ADMIN_TOKEN: process.env.ADMIN_TOKEN } : {}),
      ...(process.env.LOG_LEVEL ? { LOG_LEVEL: process.env.LOG_LEVEL } : {}),
    },
  });

  const banner = [
    "",
    `  Qwen3-ASR service is up on ${edge.url} (edge on workerd)`,
    `  API key:  ${apiKey}`,
    `  Model:    ${modelDir} (CPU)`,
    `  Database: ${process.env.DATABASE_URL ? "DATABASE_URL" : join(DATA, "pglite")}`,
    `  Audio:    bucket ${BUCKET} on the local S3 emulator ${aws.endpoint} (in memory)`,
    "",
    `  curl -H "Authorization: Bearer ${apiKey}" -F file=@test/fixtures/audio/speech.wav ${edge.url}/v1/transcriptions`,
    `  API docs: ${edge.url}/docs`,
    "",
  ].join("\n");
  process.stdout.write(banner + "\n");

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await worker.stop(config.worker.shutdownGraceMs);
    await edge.stop();
    await aws.stop();
    await database.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
  // wrangler exits the process on a signal of its own accord; the GPU worker must not outlive it.
  process.once("exit", () => {
    worker.kill();
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
