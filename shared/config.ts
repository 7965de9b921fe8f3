import { z } from "zod";
import { canonicalOrigin, isOriginPattern } from "./origins.js";

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
  memory: z
    .object({
      /** onnxruntime's memory pool (gpu-worker/engine/memory-pool.ts); defaults from `npm run bench:pool`. */
      pool: z
        .object({
          cpuArena: z.boolean().default(true),
          // Off: −14 % peak RSS for ≈ +3 % batch latency (median of 4 runs of bench:pool on this 2-core machine);
          // batch shapes vary (rows × padded length), so a pattern planned for one shape is seldom reused.
          memoryPattern: z.boolean().default(false),
          initializersOutsideArena: z.boolean().default(false),
          sessionConfig: z.record(z.string().regex(/^[a-z_]+\.[A-Za-z0-9_.]+$/, "a session config key such as session.disable_prepacking"), z.string()).default({}),
          /** Reserved beyond use, as a share of reserved, above which a recommendation is made (the seed's 0.1). */
          fragmentationThreshold: z.number().min(0).max(1).default(0.1),
        })
        .prefault({}),
      /** The feedback loop that turns measured memory into planner settings (gpu-worker/scheduler/memory-feedback.ts). */
      feedback: z
        .object({
          enabled: z.boolean().default(true),
          tightenAbove: z.number().gt(0).max(1).default(0.9),
          relaxBelow: z.number().gt(0).lt(1).default(0.8),
          relaxAfterBatches: z.number().int().positive().default(50),
          marginStep: z.number().gt(0).max(0.5).default(0.02),
          maxExtraMargin: z.number().min(0).lt(0.9).default(0.25),
          maxCorrection: z.number().min(1).max(10).default(1.5),
        })
        .prefault({})
        .refine((f) => f.relaxBelow < f.tightenAbove, { message: "relaxBelow must be below tightenAbove", path: ["relaxBelow"] }),
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
  cors: z
    .object({
      /**
       * Origins (scheme://host[:port]) whose pages may call the API from a browser, besides each key's own list.
       * "*" allows any origin; credentials (cookies) are never allowed, so a wildcard cannot carry them.
       */
      origins: z
        .array(z.string().refine(isOriginPattern, { message: 'an origin is scheme://host[:port], without a path, or "*"' }))
        .default([])
        .transform((origins) => origins.map((o) => canonicalOrigin(o) ?? o)),
      /** How long a browser may cache a preflight answer. */
      maxAgeSeconds: z.number().int().nonnegative().default(600),
    })
    .prefault({}),
  browserTokens: z
    .object({
      /** Lifetime of a browser token when the request names none. */
      ttlSeconds: z.number().int().positive().default(600),
      /** Longest lifetime a request may ask for. */
      maxTtlSeconds: z.number().int().positive().default(3600),
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
      /** Requests per minute per key that are not reads (a key's own rate_limit_per_minute replaces it). */
      requestsPerMinute: z.number().int().positive().default(60),
      /** GET/HEAD requests per minute per key: polling and listing have a budget of their own. */
      readsPerMinute: z.number().int().positive().default(600),
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
    cors: pick({ origins: list(env.CORS_ORIGINS) }),
    browserTokens: pick({ ttlSeconds: int(env.BROWSER_TOKEN_TTL_SECONDS) }),
    openai: pick({ waitSeconds: int(env.OPENAI_WAIT_SECONDS) }),
    rateLimits: pick({ requestsPerMinute: int(env.RATE_LIMIT_PER_MINUTE), readsPerMinute: int(env.RATE_LIMIT_READS_PER_MINUTE) }),
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
