/**
 * `npm start`: the whole pipeline on one machine with nothing but Node.
 *
 * - PGlite (data in ./.data/pglite, kept across restarts) served over the Postgres wire protocol, so the edge
 *   and the worker use the same postgres.js driver as production;
 * - the SQS emulator (fauxqs) with the job queue and its dead-letter queue;
 * - filesystem blob storage in ./.data/blobs;
 * - the GPU worker in its own process (CPU engine on the model the repo ships);
 * - the API on http://127.0.0.1:8787 (PORT overrides).
 *
 * It prints where it listens and an API key that works (BOOTSTRAP_API_KEY, or one generated on first start
 * and kept in ./.data/dev-api-key).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createDatabase } from "../db/client.js";
import { startEdgeServer } from "../edge/node.js";
import { ensureApiKey } from "../edge/store/api-keys.js";
import { FsBlobStore } from "../shared/adapters/fs-blob-store.js";
import { sqsJobQueue } from "../shared/adapters/sqs.js";
import { loadServiceConfig } from "../shared/config-file.js";
import { createLogger } from "../shared/logger.js";
import { localAllowPrivateTargets } from "./local-targets.js";
import { DATA, ROOT, devApiKey, superviseWorker } from "./launcher.js";
import { startLocalSqs } from "./sqs-emulator.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const logger = createLogger({ service: "launcher" });
  const config = loadServiceConfig();
  config.network.allowPrivateTargets = localAllowPrivateTargets(config.network.allowPrivateTargets);
  const modelDir = resolve(ROOT, config.model.dir);
  if (!existsSync(modelDir)) throw new Error(`model directory ${modelDir} does not exist (MODEL_DIR or model.dir in service.config.json)`);

  const database = await createDatabase({ dataDir: join(DATA, "pglite") });
  const sqs = await startLocalSqs({ visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds, maxReceiveCount: config.queue.maxReceiveCount });
  const queue = sqsJobQueue({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint });
  const blobDir = join(DATA, "blobs");
  const apiKey = devApiKey();
  await ensureApiKey(database.db, apiKey, "local development");

  const workerEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    SQS_QUEUE_URL: sqs.queueUrl,
    SQS_ENDPOINT: sqs.endpoint,
    BLOB_STORE: "fs",
    BLOB_DIR: blobDir,
    MODEL_DIR: modelDir,
    // The worker posts the webhooks: it allows the same private targets as this edge.
    ALLOW_PRIVATE_TARGETS: config.network.allowPrivateTargets.join(","),
  };
  let stopping = false;
  const worker = superviseWorker(workerEnv, logger);

  const edge = await startEdgeServer({ config, database, blobs: new FsBlobStore(blobDir), queue, logger: createLogger({ service: "edge" }), adminToken: process.env.ADMIN_TOKEN });

  const banner = [
    "",
    `  Qwen3-ASR service is up on ${edge.url}`,
    `  API key:  ${apiKey}`,
    `  Model:    ${modelDir} (CPU)`,
    `  Data:     ${DATA}`,
    `  Private targets allowed for audio_url/webhook_url: ${config.network.allowPrivateTargets.join(", ")}`,
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
    await edge.close();
    await sqs.stop();
    await database.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
