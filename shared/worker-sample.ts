/**
 * What a GPU worker reports about itself every heartbeat: one sample per interval, kept as a sliding window in
 * its `worker_heartbeats` row. Plain JSON, so the edge (Node or Workers) reads it without the worker's code.
 */

/** Where a measured memory number comes from: device memory (what the budget counts) or the host process. */
export type MemorySource = "cuda" | "gpu_device_total" | "process_rss";

export interface WorkerSample {
  /** End of the interval, ISO 8601. */
  at: string;
  intervalSeconds: number;
  batches: number;
  /** Mean and largest batch size in the interval; 0 without batches. */
  batchSizeMean: number;
  batchSizeMax: number;
  /** Audio transcribed in the interval, and the engine time it took (the rest of the interval the engine idled). */
  audioSeconds: number;
  busySeconds: number;
  /** Mean share of padded decoder slots (0…1); null without batches. */
  paddingWasteMean: number | null;
  /** Largest modeled memory (memory-model.ts total) of the interval's batches; null without batches. */
  modeledPeakBytes: number | null;
  /** A measurement taken at the end of the interval, and what it measured; null when no probe answered. */
  measuredBytes: number | null;
  measuredSource: MemorySource | null;
  jobsCompleted: number;
  jobsFailed: number;
  /** started − created of the jobs finished in the interval (seconds); null when none finished. */
  queueWaitSecondsMean: number | null;
  queueWaitSecondsMax: number | null;
  /** completed − started of the jobs finished in the interval. */
  processingSecondsMean: number | null;
  /**
   * Changes the memory feedback loop made in the interval (margin, largest batch, corrections, unsafe shapes);
   * marks on the dashboard's memory chart. Absent from samples of workers older than the loop.
   */
  memoryAdjustments?: number;
  /** The largest share of measured memory a batch of the interval did not need (reserved − used) ÷ reserved. */
  fragmentation?: number | null;
  /** What the loop saw but cannot act on (gpu-worker/scheduler/memory-feedback.ts FeedbackLimit messages). */
  memoryLimits?: string[];
  /** Worker state at the end of the interval. */
  activeJobs: number;
  queuedChunks: number;
}

/** A worker as its heartbeat row describes it. */
export interface WorkerReport {
  workerId: string;
  hostname: string;
  executionProvider: string;
  budgetBytes: number;
  safetyMargin: number;
  maxBatch: number;
  updatedAt: Date;
  stoppedAt: Date | null;
  /** Set by the heartbeats after a stop signal: a worker that goes silent after this stopped, not crashed. */
  stoppingSince?: Date | null;
  samples: WorkerSample[];
}

/** Device memory is what the budget counts; a host RSS number is only shown, never compared with the budget. */
export const isDeviceMemory = (source: MemorySource | null): boolean => source === "cuda" || source === "gpu_device_total";

/** The memory figure a sample stands for: measured device memory when there is one, else the modeled peak. */
export function sampleMemoryBytes(sample: WorkerSample): number | null {
  if (sample.measuredBytes !== null && isDeviceMemory(sample.measuredSource)) {
    return Math.max(sample.measuredBytes, sample.modeledPeakBytes ?? 0);
  }
  return sample.modeledPeakBytes;
}
