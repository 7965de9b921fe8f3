import { createDatabase, type Database } from "../db/client.js";
import { createGuardedFetch } from "../shared/adapters/guarded-fetch.js";
import { isEntryPoint } from "../shared/entry-point.js";
import { blobStoreFromEnv, queueFromEnv } from "../shared/adapters/from-env.js";
import type { BlobStore } from "../shared/blob-store.js";
import type { ServiceConfig } from "../shared/config.js";
import { loadServiceConfig } from "../shared/config-file.js";
import { createLogger, type Logger } from "../shared/logger.js";
import type { JobQueue, JobQueueReceiver } from "../shared/queue.js";
import { SileroSpeechDetector } from "./audio/silero-vad.js";
import { Qwen3AsrEngine } from "./engine/engine.js";
import { Maintenance } from "./maintenance.js";
import { WorkerObservability, workerMetricsPort, type WorkerObservabilitySettings } from "./observability.js";
import { MemoryFeedback } from "./scheduler/memory-feedback.js";
import { plannerConfig } from "./scheduler/planner.js";
import { loadCalibration } from "./scheduler/calibration-file.js";
import { WorkerService, type WorkerDeps } from "./service.js";
import { WebhookDispatcher } from "./webhooks/dispatcher.js";
import { lookup } from "node:dns/promises";

export interface WorkerOptions {
  config: ServiceConfig;
  database: Database;
  blobs: BlobStore;
  queue: JobQueue & JobQueueReceiver;
  logger?: Logger;
  engine?: Qwen3AsrEngine;
  fetch?: typeof fetch;
  onJobFinished?: WorkerDeps["onJobFinished"];
  onBatch?: WorkerDeps["onBatch"];
  /** Metrics server port, heartbeat interval, memory probe (gpu-worker/observability.ts). */
  observability?: WorkerObservabilitySettings;
}

export interface RunningWorker {
  service: WorkerService;
  engine: Qwen3AsrEngine;
  dispatcher: WebhookDispatcher;
  maintenance: Maintenance;
  observability: WorkerObservability;
  stop(): Promise<void>;
}

/** Wires the worker's adapters and starts its loops: SQS intake + batching, webhooks, outbox relay + sweeper. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ service: "gpu-worker" });
  const engine =
    options.engine ??
    (await Qwen3AsrEngine.load(config.model.dir, {
      executionProvider: config.model.executionProvider,
      deviceId: config.model.deviceId,
      ...(config.model.intraOpThreads ? { intraOpThreads: config.model.intraOpThreads } : {}),
      pool: config.memory.pool,
    }));
  const planner = plannerConfig(engine.config, {
    budgetBytes: config.batching.budgetBytes,
    safetyMargin: config.batching.safetyMargin,
    maxWaitMs: config.batching.maxWaitMs,
    maxBatch: config.batching.maxBatch,
    calibration: loadCalibration(config.batching.calibrationFile, engine.config, config.model.dir),
    decoding: engine.decoding,
  });
  const observability = new WorkerObservability({ db: options.database.db, logger, config, planner, ...options.observability });
  // Disabled, the loop still remembers batches that ran out of memory; it only stops reading the probe.
  const { enabled: feedbackEnabled, ...feedbackSettings } = config.memory.feedback;
  const feedback = new MemoryFeedback({ budgetBytes: planner.budgetBytes, ...feedbackSettings });
  observability.observeFeedback(feedback);
  const speechDetector = config.chunking.detector === "silero" ? await SileroSpeechDetector.load() : undefined;
  const service = new WorkerService({
    speechDetector,
    db: options.database.db,
    blobs: options.blobs,
    queue: options.queue,
    engine,
    config,
    planner,
    logger,
    onJobFinished: observability.onJobFinished(options.onJobFinished),
    onBatch: observability.onBatch(options.onBatch),
    feedback,
    ...(feedbackEnabled ? { measureMemory: observability.measureMemory } : {}),
    onMemoryAdjustments: observability.onAdjustments(),
  });
  const resolveHost = async (host: string) => (await lookup(host, { all: true })).map((a) => a.address);
  const dispatcher = new WebhookDispatcher({ db: options.database.db, config, logger, fetch: observability.webhookFetch(options.fetch ?? createGuardedFetch(config.network.allowPrivateTargets)), resolveHost });
  const maintenance = new Maintenance(options.database.db, options.queue, config, logger);
  service.start();
  dispatcher.start();
  maintenance.start();
  await observability.start(() => service.stats);
  logger.info("worker started", { model: engine.config.qwen3_asr.variant, provider: config.model.executionProvider, budgetBytes: planner.budgetBytes });
  return {
    service,
    engine,
    dispatcher,
    maintenance,
    observability,
    async stop() {
      await observability.heartbeat.markStopping();
      await service.stop();
      await Promise.all([dispatcher.stop(), maintenance.stop()]);
      await observability.stop();
      if (!options.engine) await engine.close();
    },
  };
}

/** `tsx gpu-worker/main.ts`: DATABASE_URL, SQS_QUEUE_URL (+ SQS_ENDPOINT), BLOB_STORE…, MODEL_DIR. */
async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const config = loadServiceConfig();
  const logger = createLogger({ service: "gpu-worker" });
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL is required for the worker");
  const database = await createDatabase({ url: process.env.DATABASE_URL, migrate: false, max: 4 });
  const worker = await startWorker({ config, database, blobs: blobStoreFromEnv(process.env), queue: queueFromEnv(process.env), logger, observability: { metricsPort: workerMetricsPort(process.env), metricsHost: process.env.WORKER_METRICS_HOST } });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    const deadline = setTimeout(() => {
      logger.error("graceful stop timed out; exiting");
      process.exit(1);
    }, config.worker.shutdownGraceMs);
    await worker.stop();
    await database.close();
    clearTimeout(deadline);
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

if (isEntryPoint(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
