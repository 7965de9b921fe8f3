import { z } from "zod";

/**
 * The service's single configuration: defaults ← the config file (service.config.json) ← environment.
 * Pure: reading the file is the caller's job (shared/config-file.ts on Node; Workers pass bindings as env).
 */
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const serviceConfigSchema = z.object({
  server: z
    .object({
      port: z.number().int().min(0).max(65535).default(8787),
      host: z.string().default("127.0.0.1"),
    })
    .prefault({}),
  limits: z
    .object({
      /** Largest upload accepted in one request (Workers' request body limit is 100 MB on Free/Pro). */
      maxUploadBytes: z.number().int().positive().default(100 * MiB),
      maxDurationSeconds: z.number().positive().default(4 * 3600),
      minDurationSeconds: z.number().nonnegative().default(0.1),
      maxJsonBytes: z.number().int().positive().default(64 * 1024),
      audioUrlTimeoutMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  model: z
    .object({
      dir: z.string().default("models/qwen3-asr-synth-en"),
      executionProvider: z.enum(["cpu", "cuda"]).default("cpu"),
      deviceId: z.number().int().nonnegative().default(0),
      intraOpThreads: z.number().int().nonnegative().default(0),
      /**
       * Languages a request may ask for (ISO codes or names). Unset: the model's config.json
       * `supported_languages` where the edge can read it (Node), else all 30 of Qwen3-ASR's.
       */
      languages: z.array(z.string()).optional(),
    })
    .prefault({}),
  batching: z
    .object({
      /** GPU memory the batches may use, in bytes (5 GiB by default). */
      budgetBytes: z.number().int().positive().default(5 * GiB),
      // Covers what the memory model misses; the weights are exact, so 5 % of the budget (256 MiB at 5 GiB) is ample.
      safetyMargin: z.number().min(0).max(0.9).default(0.05),
      maxWaitMs: z.number().int().nonnegative().default(2000),
      maxBatch: z.number().int().positive().default(32),
      calibrationFile: z.string().optional(),
    })
    .prefault({}),
  chunking: z
    .object({
      chunkSeconds: z.number().positive().default(30),
      overlapSeconds: z.number().nonnegative().default(1),
      skipSilenceSeconds: z.number().positive().default(2),
      /** Speech detection for cut points and skipped silence: an energy detector, or Silero VAD (a neural model). */
      detector: z.enum(["energy", "silero"]).default("energy"),
    })
    .prefault({}),
  queue: z
    .object({
      visibilityTimeoutSeconds: z.number().int().positive().default(60),
      waitTimeSeconds: z.number().int().min(0).max(20).default(20),
      maxReceiveCount: z.number().int().positive().default(5),
      /** Messages a worker holds (running or waiting for a batch) at once. */
      prefetch: z.number().int().positive().default(16),
    })
    .prefault({}),
  worker: z
    .object({
      progressIntervalMs: z.number().int().positive().default(250),
      shutdownGraceMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  webhooks: z
    .object({
      timeoutMs: z.number().int().positive().default(15_000),
      /** Seconds after the event at which attempts are made (Standard Webhooks' example schedule). */
      scheduleSeconds: z.array(z.number().nonnegative()).default([0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]),
      jitter: z.number().min(0).max(1).default(0.1),
      pollIntervalMs: z.number().int().positive().default(1000),
    })
    .prefault({}),
  network: z
    .object({
      /** Hosts or CIDR ranges that webhook and audio_url targets may use even though they are private. */
      allowPrivateTargets: z.array(z.string()).default([]),
    })
    .prefault({}),
  metering: z
    .object({
      minimumBillableSeconds: z.number().int().nonnegative().default(1),
    })
    .prefault({}),
  rateLimits: z
    .object({
      requestsPerMinute: z.number().int().positive().default(60),
      monthlyAudioSeconds: z.number().int().positive().default(100 * 3600),
    })
    .prefault({}),
  openai: z
    .object({
      waitSeconds: z.number().positive().default(120),
    })
    .prefault({}),
  idempotency: z
    .object({
      ttlHours: z.number().positive().default(24),
    })
    .prefault({}),
  sweeper: z
    .object({
      intervalSeconds: z.number().positive().default(30),
      queuedStaleSeconds: z.number().positive().default(300),
      processingStaleSeconds: z.number().positive().default(600),
      maxAttempts: z.number().int().positive().default(5),
    })
    .prefault({}),
});

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;
export type ServiceConfigInput = z.input<typeof serviceConfigSchema>;

type Env = Record<string, string | undefined>;

const int = (v: string | undefined): number | undefined => (v === undefined || v === "" ? undefined : Number(v));
const list = (v: string | undefined): string[] | undefined =>
  v === undefined || v === "" ? undefined : v.split(",").map((s) => s.trim()).filter(Boolean);

/** Environment variables that override the file; documented in the README. */
function fromEnv(env: Env): ServiceConfigInput {
  const pick = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return {
    server: pick({ port: int(env.PORT), host: env.HOST }),
    model: pick({
      dir: env.MODEL_DIR,
      executionProvider: env.EXECUTION_PROVIDER as "cpu" | "cuda" | undefined,
      deviceId: int(env.CUDA_DEVICE_ID),
      languages: list(env.MODEL_LANGUAGES),
    }),
    batching: pick({ budgetBytes: int(env.GPU_MEMORY_BUDGET_BYTES), maxBatch: int(env.MAX_BATCH), calibrationFile: env.CALIBRATION_FILE }),
    queue: pick({ prefetch: int(env.WORKER_CONCURRENCY), visibilityTimeoutSeconds: int(env.VISIBILITY_TIMEOUT_SECONDS) }),
    network: pick({ allowPrivateTargets: list(env.ALLOW_PRIVATE_TARGETS) }),
    openai: pick({ waitSeconds: int(env.OPENAI_WAIT_SECONDS) }),
  };
}

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      value && typeof value === "object" && !Array.isArray(value) && current && typeof current === "object" && !Array.isArray(current)
        ? mergeDeep(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function parseServiceConfig(file: unknown, env: Env = {}): ServiceConfig {
  const merged = mergeDeep((file ?? {}) as Record<string, unknown>, fromEnv(env) as Record<string, unknown>);
  const result = serviceConfigSchema.safeParse(merged);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  return result.data;
}
