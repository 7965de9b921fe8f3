import type { Job } from "../db/schema.js";
import type { WorkerSample } from "../shared/worker-sample.js";
import type { BatchReport } from "./batcher.js";
import type { MemoryMeasurement } from "./device-memory.js";

/** What the worker looks like when an interval closes (WorkerService.stats). */
export interface WorkerState {
  activeJobs: number;
  queuedChunks: number;
}

interface Interval {
  startedAt: number;
  batches: number;
  sizeSum: number;
  sizeMax: number;
  audioSeconds: number;
  busySeconds: number;
  paddingSum: number;
  modeledPeak: number | null;
  completed: number;
  failed: number;
  queueWaits: number[];
  processing: number[];
  adjustments: number;
  fragmentation: number | null;
}

const freshInterval = (startedAt: number): Interval => ({
  startedAt,
  batches: 0,
  sizeSum: 0,
  sizeMax: 0,
  audioSeconds: 0,
  busySeconds: 0,
  paddingSum: 0,
  modeledPeak: null,
  completed: 0,
  failed: 0,
  queueWaits: [],
  processing: [],
  adjustments: 0,
  fragmentation: null,
});

const seconds = (from: Date | null, to: Date | null): number | null => (from && to ? Math.max(0, (to.getTime() - from.getTime()) / 1000) : null);
const meanOrNull = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length);

/** Queue wait, processing and end-to-end seconds of a finished job (null where a timestamp is missing). */
export function jobLatencies(job: Job): { queueWait: number | null; processing: number | null; endToEnd: number | null } {
  return {
    queueWait: seconds(job.createdAt, job.startedAt),
    processing: seconds(job.startedAt, job.completedAt),
    endToEnd: seconds(job.createdAt, job.completedAt),
  };
}

/**
 * Reserved versus used after a batch: what the measured memory holds beyond what the batch needed, as a share of
 * the measured memory. onnxruntime-node exposes no arena statistics, so "used" is the memory model's figure for
 * the batch; "reserved" is the reading taken right after it (the pools keep what they grew to).
 */
export function fragmentationOf(report: BatchReport): number | null {
  if (!report.measured || !report.modeled || report.measured.bytes <= 0) return null;
  return Math.max(0, 1 - report.modeled.total / report.measured.bytes);
}

/**
 * Accumulates batches and finished jobs between heartbeats, and keeps the last `capacity` closed intervals as
 * the sliding window of samples the heartbeat publishes.
 */
export class SampleWindow {
  private current: Interval;
  private readonly closed: WorkerSample[] = [];

  constructor(
    private readonly capacity = 60,
    now = Date.now(),
  ) {
    this.current = freshInterval(now);
  }

  get samples(): readonly WorkerSample[] {
    return this.closed;
  }

  recordBatch(report: BatchReport): void {
    const c = this.current;
    c.batches++;
    c.sizeSum += report.size;
    c.sizeMax = Math.max(c.sizeMax, report.size);
    c.audioSeconds += report.audioSeconds;
    c.busySeconds += report.durationMs / 1000;
    c.paddingSum += report.paddingWaste;
    if (report.modeled) c.modeledPeak = Math.max(c.modeledPeak ?? 0, report.modeled.total);
    const fragmentation = fragmentationOf(report);
    if (fragmentation !== null) c.fragmentation = Math.max(c.fragmentation ?? 0, fragmentation);
  }

  /** Changes the memory feedback loop made (counted per interval: marks on the memory chart). */
  recordAdjustments(count: number): void {
    this.current.adjustments += count;
  }

  recordJob(job: Job): void {
    if (job.status === "completed") this.current.completed++;
    else if (job.status === "failed") this.current.failed++;
    const { queueWait, processing } = jobLatencies(job);
    if (queueWait !== null) this.current.queueWaits.push(queueWait);
    if (processing !== null) this.current.processing.push(processing);
  }

  /** Ends the interval at `now`: one more sample in the window, the oldest dropped past capacity. */
  close(now: Date, state: WorkerState, measured: MemoryMeasurement | null, memoryLimits: string[] = []): WorkerSample {
    const c = this.current;
    const sample: WorkerSample = {
      at: now.toISOString(),
      intervalSeconds: Math.max(0, (now.getTime() - c.startedAt) / 1000),
      batches: c.batches,
      batchSizeMean: c.batches > 0 ? c.sizeSum / c.batches : 0,
      batchSizeMax: c.sizeMax,
      audioSeconds: c.audioSeconds,
      busySeconds: c.busySeconds,
      paddingWasteMean: c.batches > 0 ? c.paddingSum / c.batches : null,
      modeledPeakBytes: c.modeledPeak,
      measuredBytes: measured?.bytes ?? null,
      measuredSource: measured?.source ?? null,
      jobsCompleted: c.completed,
      jobsFailed: c.failed,
      queueWaitSecondsMean: meanOrNull(c.queueWaits),
      queueWaitSecondsMax: c.queueWaits.length > 0 ? Math.max(...c.queueWaits) : null,
      processingSecondsMean: meanOrNull(c.processing),
      memoryAdjustments: c.adjustments,
      fragmentation: c.fragmentation,
      memoryLimits,
      activeJobs: state.activeJobs,
      queuedChunks: state.queuedChunks,
    };
    this.closed.push(sample);
    if (this.closed.length > this.capacity) this.closed.splice(0, this.closed.length - this.capacity);
    this.current = freshInterval(now.getTime());
    return sample;
  }
}
