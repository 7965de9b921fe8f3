import { jobStatuses, type JobStatus } from "../../db/schema.js";
import { defaultThresholds } from "../../shared/recommendations.js";
import { isDeviceMemory, type WorkerReport, type WorkerSample } from "../../shared/worker-sample.js";
import type { JobStatsPoint } from "./job-stats.js";

/** Columns of numbers sharing one time axis (unix seconds), the shape uPlot draws. */
export type Column = (number | null)[];

export interface WorkerSeries {
  t: number[];
  /** Audio-seconds transcribed per wall-clock second, summed over workers. */
  throughput: Column;
  /** Audio-seconds per second of engine time (1 / real-time factor). */
  engine_throughput: Column;
  batch_size_mean: Column;
  batch_size_max: Column;
  modeled_peak_bytes: Column;
  measured_device_bytes: Column;
  process_rss_bytes: Column;
  /**
   * Marks of the memory feedback loop's changes, at the height of the memory they answered (measured device
   * memory, else the modeled peak); null where the loop changed nothing.
   */
  memory_adjustments: Column;
  queue_wait_seconds_mean: Column;
  queue_wait_seconds_max: Column;
  queued_chunks: Column;
}

export interface JobSeries {
  t: number[];
  by_status: Record<JobStatus, number[]>;
  oldest_queued_seconds: number[];
}

export interface SeriesOptions {
  /** Only samples newer than this are charted. */
  windowSeconds?: number;
}

const MAX_POINTS = 600;
const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);
const maxOrNull = (xs: (number | null)[]): number | null => {
  const present = xs.filter((x): x is number => x !== null);
  return present.length > 0 ? Math.max(...present) : null;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * Buckets of the heartbeat interval (the median sample interval, at least 1 s): each worker reports about once
 * per bucket, so rates add across workers and sizes average. Buckets without any sample stay null, as gaps.
 */
export function workerSeries(reports: WorkerReport[], now: Date, options: SeriesOptions = {}): WorkerSeries {
  const since = now.getTime() - (options.windowSeconds ?? 15 * 60) * 1000;
  const samples = reports.flatMap((w) => w.samples.filter((s) => Date.parse(s.at) > since).map((s) => ({ worker: w.workerId, s })));
  const bucket = Math.max(1, Math.round(median(samples.map(({ s }) => s.intervalSeconds))));
  const buckets = new Map<number, { worker: string; s: WorkerSample }[]>();
  for (const entry of samples) {
    const key = Math.floor(Date.parse(entry.s.at) / 1000 / bucket) * bucket;
    buckets.set(key, [...(buckets.get(key) ?? []), entry]);
  }
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  const t: number[] = [];
  if (keys.length > 0) {
    const first = Math.max(keys[0], keys[keys.length - 1] - bucket * (MAX_POINTS - 1));
    for (let k = first; k <= keys[keys.length - 1]; k += bucket) t.push(k);
  }
  const column = (pick: (entries: { worker: string; s: WorkerSample }[]) => number | null): Column =>
    t.map((k) => {
      const entries = buckets.get(k);
      return entries ? pick(entries) : null;
    });
  return {
    t,
    throughput: column((es) => sum(perWorker(es, (ss) => sum(ss.map((s) => (s.intervalSeconds > 0 ? s.audioSeconds / s.intervalSeconds : 0))) / ss.length))),
    engine_throughput: column((es) => {
      const busy = sum(es.map(({ s }) => s.busySeconds));
      return busy > 0 ? sum(es.map(({ s }) => s.audioSeconds)) / busy : null;
    }),
    batch_size_mean: column((es) => {
      const batches = sum(es.map(({ s }) => s.batches));
      return batches > 0 ? sum(es.map(({ s }) => s.batchSizeMean * s.batches)) / batches : null;
    }),
    batch_size_max: column((es) => (sum(es.map(({ s }) => s.batches)) > 0 ? Math.max(...es.map(({ s }) => s.batchSizeMax)) : null)),
    modeled_peak_bytes: column((es) => maxOrNull(es.map(({ s }) => s.modeledPeakBytes))),
    measured_device_bytes: column((es) => maxOrNull(es.map(({ s }) => (isDeviceMemory(s.measuredSource) ? s.measuredBytes : null)))),
    process_rss_bytes: column((es) => maxOrNull(es.map(({ s }) => (s.measuredSource === "process_rss" ? s.measuredBytes : null)))),
    memory_adjustments: column((es) => {
      const adjusted = es.filter(({ s }) => (s.memoryAdjustments ?? 0) > 0);
      if (adjusted.length === 0) return null;
      return maxOrNull(adjusted.map(({ s }) => (isDeviceMemory(s.measuredSource) ? s.measuredBytes : null) ?? s.modeledPeakBytes)) ?? 0;
    }),
    queue_wait_seconds_mean: column((es) => {
      const waits = es.flatMap(({ s }) => (s.queueWaitSecondsMean === null ? [] : [s.queueWaitSecondsMean]));
      return waits.length > 0 ? sum(waits) / waits.length : null;
    }),
    queue_wait_seconds_max: column((es) => maxOrNull(es.map(({ s }) => s.queueWaitSecondsMax))),
    queued_chunks: column((es) => sum(perWorker(es, (ss) => ss[ss.length - 1].queuedChunks))),
  };
}

/** One figure per worker in a bucket (a worker can land twice in a bucket when its timer drifts). */
function perWorker(entries: { worker: string; s: WorkerSample }[], pick: (samples: WorkerSample[]) => number): number[] {
  const byWorker = new Map<string, WorkerSample[]>();
  for (const { worker, s } of entries) byWorker.set(worker, [...(byWorker.get(worker) ?? []), s]);
  return [...byWorker.values()].map(pick);
}

export function jobSeries(points: readonly JobStatsPoint[], now: Date, options: SeriesOptions = {}): JobSeries {
  const since = now.getTime() - (options.windowSeconds ?? 15 * 60) * 1000;
  const recent = points.filter((p) => p.at.getTime() > since).slice(-MAX_POINTS);
  return {
    t: recent.map((p) => Math.floor(p.at.getTime() / 1000)),
    by_status: Object.fromEntries(jobStatuses.map((s) => [s, recent.map((p) => p.jobsByStatus[s])])) as Record<JobStatus, number[]>,
    oldest_queued_seconds: recent.map((p) => p.oldestQueuedSeconds),
  };
}

/** The budget lines of the memory chart: the largest budget among the reporting workers. */
export function budgetLines(reports: WorkerReport[]): { budget_bytes: number | null; alert_bytes: number | null } {
  const budget = reports.length > 0 ? Math.max(...reports.map((w) => w.budgetBytes)) : null;
  return { budget_bytes: budget, alert_bytes: budget === null ? null : budget * defaultThresholds.memoryAlertFraction };
}
