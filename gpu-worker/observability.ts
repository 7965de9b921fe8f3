import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "../db/client.js";
import type { Job } from "../db/schema.js";
import type { ServiceConfig } from "../shared/config.js";
import type { Logger } from "../shared/logger.js";
import type { BatchReport } from "./batcher.js";
import { defaultMemoryProbe, type MemoryProbe } from "./device-memory.js";
import { Heartbeat } from "./heartbeat.js";
import { startMetricsServer, type MetricsServer } from "./metrics-server.js";
import { WorkerMetrics } from "./metrics.js";
import type { Adjustment, MemoryFeedback } from "./scheduler/memory-feedback.js";
import { SampleWindow, type WorkerState } from "./sample-window.js";
import type { PlannerConfig } from "./scheduler/planner.js";

export const DEFAULT_WORKER_METRICS_PORT = 9464;

/** What a caller of startWorker may tune; everything has a default. */
export interface WorkerObservabilitySettings {
  /** Port of the /metrics server; undefined: no server (tests read `metrics.registry` directly). */
  metricsPort?: number;
  metricsHost?: string;
  heartbeatIntervalMs?: number;
  /** Measured memory: a CUDA allocator hook, say. Default: nvidia-smi on cuda, process RSS on cpu. */
  measureMemory?: MemoryProbe;
  workerId?: string;
}

export interface WorkerObservabilityOptions extends WorkerObservabilitySettings {
  db: Db;
  logger: Logger;
  config: ServiceConfig;
  planner: PlannerConfig;
}

/** WORKER_METRICS_PORT: unset → 9464, "off" → no server. */
export function workerMetricsPort(env: Record<string, string | undefined>): number | undefined {
  const value = env.WORKER_METRICS_PORT?.trim();
  if (value === "off") return undefined;
  if (value === undefined || value === "") return DEFAULT_WORKER_METRICS_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`WORKER_METRICS_PORT must be a port number or "off", not ${value}`);
  return port;
}

/** Metrics, sample window, heartbeat and scrape server of one worker, and the hooks that feed them. */
export class WorkerObservability {
  readonly workerId: string;
  readonly metrics: WorkerMetrics;
  readonly window = new SampleWindow();
  readonly heartbeat: Heartbeat;
  metricsServer: MetricsServer | null = null;
  /** The probe the heartbeat uses; the batcher reads it after every batch for the memory feedback loop. */
  readonly measureMemory: MemoryProbe;
  private state: (() => WorkerState) | null = null;
  private feedback: MemoryFeedback | null = null;

  constructor(private readonly options: WorkerObservabilityOptions) {
    const { config, planner } = options;
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
    this.metrics = new WorkerMetrics({ budgetBytes: planner.budgetBytes });
    this.measureMemory = options.measureMemory ?? defaultMemoryProbe(config.model.executionProvider, config.model.deviceId);
    this.heartbeat = new Heartbeat({
      db: options.db,
      logger: options.logger,
      workerId: this.workerId,
      hostname: hostname(),
      executionProvider: config.model.executionProvider,
      settings: { budgetBytes: planner.budgetBytes, safetyMargin: planner.safetyMargin, maxBatch: planner.maxBatch },
      window: this.window,
      state: () => this.state?.() ?? { activeJobs: 0, queuedChunks: 0 },
      measureMemory: this.measureMemory,
      onMeasured: (m) => this.metrics.onMemoryMeasured(m),
      memoryLimits: () => this.feedback?.state.limits.map((l) => l.message) ?? [],
      intervalMs: options.heartbeatIntervalMs,
      thresholds: { fragmentationThreshold: config.memory.pool.fragmentationThreshold },
    });
  }

  /** A metrics failure must never fail a batch or a job: the hooks run inside the worker's own code paths. */
  private guarded<T>(record: (value: T) => void, then?: (value: T) => void): (value: T) => void {
    return (value) => {
      try {
        record(value);
      } catch (error) {
        this.options.logger.warn("recording metrics failed", { error });
      }
      then?.(value);
    };
  }

  onBatch(then?: (report: BatchReport) => void): (report: BatchReport) => void {
    return this.guarded((report: BatchReport) => {
      this.metrics.onBatch(report);
      this.window.recordBatch(report);
    }, then);
  }

  /** The worker's memory feedback loop: its settings become gauges, its limits go out with every sample. */
  observeFeedback(feedback: MemoryFeedback): void {
    this.feedback = feedback;
    this.metrics.recordFeedbackSettings(feedback.plannerConfig(this.options.planner), feedback.state);
  }

  /** Every change the loop makes: a metric, a log line and a mark on the dashboard's memory chart. */
  onAdjustments(): (adjustments: Adjustment[]) => void {
    return this.guarded((adjustments: Adjustment[]) => {
      const settings = this.feedback?.plannerConfig(this.options.planner) ?? this.options.planner;
      if (this.feedback) this.metrics.onAdjustments(adjustments, settings, this.feedback.state);
      this.window.recordAdjustments(adjustments.length);
      for (const a of adjustments) {
        const tightened = a.action === "margin_raised" || a.action === "max_batch_lowered" || a.action === "unsafe_shape";
        this.options.logger[tightened ? "warn" : "info"](`memory feedback: ${a.action.replaceAll("_", " ")}`, {
          ...a,
          safetyMargin: settings.safetyMargin,
          maxBatch: settings.maxBatch,
        });
      }
    });
  }

  onJobFinished(then?: (job: Job) => void): (job: Job) => void {
    return this.guarded((job: Job) => {
      this.metrics.onJobFinished(job);
      this.window.recordJob(job);
    }, then);
  }

  webhookFetch(inner?: typeof fetch): typeof fetch {
    return this.metrics.countWebhookAttempts(inner ?? ((input, init) => fetch(input, init)));
  }

  /** Starts the heartbeat and, when a port is set, the scrape server (a busy port is logged, not fatal). */
  async start(state: () => WorkerState): Promise<void> {
    this.state = state;
    this.metrics.observeState(state);
    await this.heartbeat.start();
    const { metricsPort, metricsHost, logger } = this.options;
    if (metricsPort === undefined) return;
    try {
      this.metricsServer = await startMetricsServer(this.metrics.registry, metricsPort, metricsHost);
      logger.info("worker metrics listening", { url: this.metricsServer.url, workerId: this.workerId });
    } catch (error) {
      logger.warn("worker metrics server could not start; metrics stay in the heartbeat only", { error, port: metricsPort });
    }
  }

  async stop(): Promise<void> {
    await this.heartbeat.stop();
    await this.metricsServer?.close();
    this.metricsServer = null;
  }
}
