import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Job } from "../db/schema.js";
import type { BatchReport } from "./batcher.js";
import type { MemoryMeasurement } from "./device-memory.js";
import type { Adjustment, FeedbackState } from "./scheduler/memory-feedback.js";
import { fragmentationOf } from "./sample-window.js";
import { jobLatencies, type WorkerState } from "./sample-window.js";
import type { MemoryBreakdown } from "./scheduler/memory-model.js";
import { classify } from "./webhooks/schedule.js";

/** The memory-model terms exported per batch (MemoryBreakdown minus its shape). */
const MEMORY_TERMS = ["weights", "runtimeReserve", "kvCache", "encoderActivations", "prefillActivations", "logits", "ioBuffers", "total"] as const;

/** Seconds from a fraction of a second (short clips on a GPU) to an hour (a backlog). */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export interface WorkerMetricsOptions {
  budgetBytes: number;
  /** Read at scrape time: the worker's live state. */
  state?: () => WorkerState;
}

/**
 * The worker's Prometheus metrics, on a registry of its own (several workers may share a process in tests).
 * Fed by the batcher's and the service's hooks, the heartbeat's memory probe and the webhook fetch wrapper.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly budgetBytes: number;
  private state: (() => WorkerState) | undefined;
  private modeledPeak = 0;

  private readonly batchSize = new Histogram({
    name: "asr_worker_batch_size",
    help: "Items (clips or chunks) per engine batch",
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
    registers: [this.registry],
  });
  private readonly paddingWaste = new Histogram({
    name: "asr_worker_batch_padding_waste_ratio",
    help: "Share of padded decoder slots per batch (0 = none wasted)",
    buckets: [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1],
    registers: [this.registry],
  });
  private readonly batchDuration = new Histogram({
    name: "asr_worker_batch_duration_seconds",
    help: "Engine time per batch",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly realTimeFactor = new Histogram({
    name: "asr_worker_batch_real_time_factor",
    help: "Engine seconds per audio second, per batch (lower is faster; 1 / throughput)",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: [this.registry],
  });
  private readonly batchBudgetRatio = new Histogram({
    name: "asr_worker_batch_modeled_memory_budget_ratio",
    help: "Modeled memory of each batch as a share of the budget",
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1],
    registers: [this.registry],
  });
  private readonly audioSeconds = new Counter({
    name: "asr_worker_audio_seconds_processed_total",
    help: "Audio transcribed, in seconds",
    registers: [this.registry],
  });
  private readonly busySeconds = new Counter({
    name: "asr_worker_engine_busy_seconds_total",
    help: "Engine time spent on batches; rate(audio) / rate(busy) is the throughput",
    registers: [this.registry],
  });
  private readonly modeledMemory = new Gauge({
    name: "asr_worker_modeled_memory_bytes",
    help: "Modeled device memory of the last batch, per memory-model term",
    labelNames: ["term"],
    registers: [this.registry],
  });
  private readonly modeledPeakGauge = new Gauge({
    name: "asr_worker_modeled_memory_peak_bytes",
    help: "Largest modeled device memory of any batch since the worker started",
    registers: [this.registry],
  });
  private readonly measuredMemory = new Gauge({
    name: "asr_worker_measured_memory_bytes",
    help: "Measured memory: cuda (this process on the device), gpu_device_total, or process_rss (host, CPU provider)",
    labelNames: ["source"],
    registers: [this.registry],
  });
  private readonly budget = new Gauge({
    name: "asr_worker_memory_budget_bytes",
    help: "Device memory the planner may plan batches into (batching.budgetBytes)",
    registers: [this.registry],
  });
  private readonly memoryAdjustments = new Counter({
    name: "asr_worker_memory_adjustments_total",
    help: "Changes the memory feedback loop made, by action (margin_raised, max_batch_lowered, correction_raised, unsafe_shape…)",
    labelNames: ["action"],
    registers: [this.registry],
  });
  private readonly feedbackMargin = new Gauge({
    name: "asr_worker_memory_feedback_safety_margin_ratio",
    help: "Safety margin the planner uses now: batching.safetyMargin plus what the feedback loop added",
    registers: [this.registry],
  });
  private readonly feedbackMaxBatch = new Gauge({
    name: "asr_worker_memory_feedback_max_batch",
    help: "Largest batch the planner may plan now: batching.maxBatch or the feedback loop's lower cap",
    registers: [this.registry],
  });
  private readonly feedbackCorrection = new Gauge({
    name: "asr_worker_memory_feedback_correction_ratio",
    help: "The loop's correction of the memory model beyond the weights (measured ÷ predicted) for shapes not measured yet",
    registers: [this.registry],
  });
  private readonly reservedMemory = new Gauge({
    name: "asr_worker_memory_reserved_bytes",
    help: "Memory measured right after the last batch: what the pools hold (reserved)",
    registers: [this.registry],
  });
  private readonly fragmentation = new Gauge({
    name: "asr_worker_memory_fragmentation_ratio",
    help: "Reserved versus used after the last batch: (measured − modeled) ÷ measured; used is the memory model's figure (onnxruntime-node exposes no arena statistics)",
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: "asr_worker_job_queue_wait_seconds",
    help: "started − created of finished jobs",
    labelNames: ["status"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly processing = new Histogram({
    name: "asr_worker_job_processing_seconds",
    help: "completed − started of finished jobs",
    labelNames: ["status"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly endToEnd = new Histogram({
    name: "asr_worker_job_end_to_end_seconds",
    help: "completed − created of finished jobs",
    labelNames: ["status"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly jobsFinished = new Counter({
    name: "asr_worker_jobs_finished_total",
    help: "Jobs this worker finished, by final status",
    labelNames: ["status"],
    registers: [this.registry],
  });
  private readonly webhookAttempts = new Counter({
    name: "asr_worker_webhook_attempts_total",
    help: "Webhook delivery attempts by outcome: succeeded, retry (5xx, 408, 429…), refused (other 4xx, 410, 3xx), network_error",
    labelNames: ["outcome"],
    registers: [this.registry],
  });

  constructor(options: WorkerMetricsOptions) {
    this.budgetBytes = options.budgetBytes;
    this.budget.set(options.budgetBytes);
    this.state = options.state;
    const readState = () => this.state?.();
    for (const [name, help, pick] of [
      ["asr_worker_active_jobs", "Jobs this worker holds (decoding or waiting for batches)", (s: WorkerState) => s.activeJobs],
      ["asr_worker_queued_chunks", "Chunks waiting in the worker's local batch queue", (s: WorkerState) => s.queuedChunks],
    ] as const) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const state = readState();
          if (state) this.set(pick(state));
        },
      });
    }
    collectDefaultMetrics({ register: this.registry });
  }

  /** The worker's state is known only once its service exists. */
  observeState(state: () => WorkerState): void {
    this.state = state;
  }

  onBatch(report: BatchReport): void {
    this.batchSize.observe(report.size);
    this.paddingWaste.observe(report.paddingWaste);
    this.batchDuration.observe(report.durationMs / 1000);
    this.audioSeconds.inc(report.audioSeconds);
    this.busySeconds.inc(report.durationMs / 1000);
    if (report.audioSeconds > 0) this.realTimeFactor.observe(report.durationMs / 1000 / report.audioSeconds);
    if (report.modeled) this.recordModeled(report.modeled);
    if (report.measured) this.reservedMemory.set(report.measured.bytes);
    const fragmentation = fragmentationOf(report);
    if (fragmentation !== null) this.fragmentation.set(fragmentation);
  }

  /** The feedback loop's changes, and the planner settings they leave. */
  onAdjustments(adjustments: readonly Adjustment[], settings: { safetyMargin: number; maxBatch: number }, state: FeedbackState): void {
    for (const a of adjustments) this.memoryAdjustments.inc({ action: a.action });
    this.recordFeedbackSettings(settings, state);
  }

  recordFeedbackSettings(settings: { safetyMargin: number; maxBatch: number }, state: FeedbackState): void {
    this.feedbackMargin.set(settings.safetyMargin);
    this.feedbackMaxBatch.set(settings.maxBatch);
    this.feedbackCorrection.set(state.globalCorrection);
  }

  private recordModeled(modeled: MemoryBreakdown): void {
    for (const term of MEMORY_TERMS) this.modeledMemory.set({ term }, modeled[term]);
    this.modeledPeak = Math.max(this.modeledPeak, modeled.total);
    this.modeledPeakGauge.set(this.modeledPeak);
    this.batchBudgetRatio.observe(modeled.total / this.budgetBytes);
  }

  onJobFinished(job: Job): void {
    this.jobsFinished.inc({ status: job.status });
    const { queueWait, processing, endToEnd } = jobLatencies(job);
    if (queueWait !== null) this.queueWait.observe({ status: job.status }, queueWait);
    if (processing !== null) this.processing.observe({ status: job.status }, processing);
    if (endToEnd !== null) this.endToEnd.observe({ status: job.status }, endToEnd);
  }

  onMemoryMeasured(measurement: MemoryMeasurement): void {
    this.measuredMemory.set({ source: measurement.source }, measurement.bytes);
  }

  /** Wraps the webhook dispatcher's fetch: every attempt that reaches the network is counted by outcome. */
  countWebhookAttempts(inner: typeof fetch): typeof fetch {
    return async (input, init) => {
      try {
        const response = await inner(input, init);
        const outcome = classify(response.status).kind;
        this.webhookAttempts.inc({ outcome: outcome === "stop" ? "refused" : outcome });
        return response;
      } catch (error) {
        this.webhookAttempts.inc({ outcome: "network_error" });
        throw error;
      }
    };
  }
}
