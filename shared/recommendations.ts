import { sampleMemoryBytes, type WorkerReport, type WorkerSample } from "./worker-sample.js";

/**
 * The seed's monitor made real: pure rules over the sliding windows of worker samples (shared/worker-sample.ts).
 * Every finding carries the numbers it was derived from, so a reader can check it. No I/O: the edge calls this
 * on heartbeat rows, the worker on its own window (to log a rule when it starts firing).
 */

export type Severity = "info" | "warning" | "critical";

export type RuleId =
  | "memory_alert"
  | "memory_sustained_high"
  | "throughput_below_expected"
  | "memory_fragmentation"
  | "memory_feedback_limit"
  | "queue_wait_growing"
  | "worker_silent"
  | "no_worker_reporting"
  | "healthy";

export interface Recommendation {
  rule: RuleId;
  severity: Severity;
  /** The worker it is about; absent for fleet-wide findings. */
  workerId?: string;
  message: string;
  /** The figures behind the finding; snake_case, as the admin API returns them. */
  numbers: Record<string, number>;
}

export interface RecommendationThresholds {
  /** The seed's alert: memory above this share of the budget. */
  memoryAlertFraction: number;
  /** The seed's "mean memory over the last 10 samples". */
  memoryWindowSamples: number;
  /** Fewest samples with a memory figure before the mean is trusted. */
  memoryMinSamples: number;
  /** The seed's 1.2 audio-seconds per second, counted per second of engine time (1 / real-time factor). */
  expectedThroughput: number;
  /** Below this share of the budget, memory use counts as low. */
  lowMemoryFraction: number;
  /** Fewest batches in the window before throughput is judged. */
  minBatchesForThroughput: number;
  /** Queue wait counts as growing when the later half of the window averages this many times the earlier half… */
  queueWaitRiseFactor: number;
  /** …and at least this many seconds more (so 0.1 s → 0.2 s is not news). */
  queueWaitMinRiseSeconds: number;
  queueWaitMinPoints: number;
  /** The seed's fragmentation_threshold: reserved − used above this share of reserved. */
  fragmentationThreshold: number;
  /** A worker whose heartbeat is older than this is silent. */
  staleAfterSeconds: number;
}

export const defaultThresholds: RecommendationThresholds = {
  memoryAlertFraction: 0.9,
  memoryWindowSamples: 10,
  memoryMinSamples: 3,
  expectedThroughput: 1.2,
  lowMemoryFraction: 0.5,
  minBatchesForThroughput: 3,
  queueWaitRiseFactor: 1.5,
  queueWaitMinRiseSeconds: 5,
  queueWaitMinPoints: 4,
  fragmentationThreshold: 0.1,
  staleAfterSeconds: 30,
};

const GiB = 1024 ** 3;
const gib = (bytes: number): string => `${(bytes / GiB).toFixed(2)} GiB`;
const pct = (fraction: number): string => `${Math.round(fraction * 100)} %`;
const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Rules for every worker, then for the fleet; "healthy" (with its numbers) when none fires. */
export function recommend(workers: WorkerReport[], now: Date, overrides: Partial<RecommendationThresholds> = {}): Recommendation[] {
  const t = { ...defaultThresholds, ...overrides };
  const live = workers.filter((w) => isLiveWorker(w, now, t.staleAfterSeconds));
  const found: Recommendation[] = [];
  for (const worker of workers) {
    if (!live.includes(worker)) {
      const silent = workerSilent(worker, now);
      if (silent) found.push(silent);
      continue;
    }
    found.push(
      ...[memoryAlert(worker, t), memorySustainedHigh(worker, t), memoryFragmentation(worker, t), memoryFeedbackLimit(worker), throughputBelowExpected(worker, t)].filter(isFinding),
    );
  }
  if (live.length === 0) found.push(noWorkerReporting(workers, now, t));
  const queue = queueWaitGrowing(live, t);
  if (queue) found.push(queue);
  return found.length > 0 ? found.sort(bySeverity) : [healthy(live, t)];
}

const isFinding = (r: Recommendation | null): r is Recommendation => r !== null;
const severityRank: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
const bySeverity = (a: Recommendation, b: Recommendation): number => severityRank[a.severity] - severityRank[b.severity];

const ageSeconds = (worker: WorkerReport, now: Date): number => (now.getTime() - worker.updatedAt.getTime()) / 1000;
/** Running and heard from within `staleAfterSeconds`. */
export const isLiveWorker = (worker: WorkerReport, now: Date, staleAfterSeconds = defaultThresholds.staleAfterSeconds): boolean =>
  worker.stoppedAt === null && ageSeconds(worker, now) <= staleAfterSeconds;

/** Memory figures of the worker's samples, newest last, as shares of its budget. */
function memoryFractions(worker: WorkerReport): { sample: WorkerSample; bytes: number; fraction: number }[] {
  return worker.samples.flatMap((sample) => {
    const bytes = sampleMemoryBytes(sample);
    return bytes === null ? [] : [{ sample, bytes, fraction: bytes / worker.budgetBytes }];
  });
}

/** How to bring memory down, worded in the config's own terms: a higher safety margin plans smaller batches. */
const lowerMemoryAdvice = (worker: WorkerReport): string =>
  `raise batching.safetyMargin (now ${worker.safetyMargin.toFixed(2)}) so the planner keeps more of the budget free, ` +
  `or lower the batch cap batching.maxBatch (now ${worker.maxBatch})`;

function memoryAlert(worker: WorkerReport, t: RecommendationThresholds): Recommendation | null {
  const latest = memoryFractions(worker).at(-1);
  if (!latest || latest.fraction <= t.memoryAlertFraction) return null;
  return {
    rule: "memory_alert",
    severity: "critical",
    workerId: worker.workerId,
    message:
      `Memory reached ${gib(latest.bytes)}, ${pct(latest.fraction)} of the ${gib(worker.budgetBytes)} budget ` +
      `(alert above ${pct(t.memoryAlertFraction)}): ${lowerMemoryAdvice(worker)}.`,
    numbers: {
      memory_bytes: latest.bytes,
      budget_bytes: worker.budgetBytes,
      fraction_of_budget: round(latest.fraction),
      alert_fraction: t.memoryAlertFraction,
      safety_margin: worker.safetyMargin,
      max_batch: worker.maxBatch,
    },
  };
}

function memorySustainedHigh(worker: WorkerReport, t: RecommendationThresholds): Recommendation | null {
  const window = memoryFractions(worker).slice(-t.memoryWindowSamples);
  if (window.length < t.memoryMinSamples) return null;
  const meanBytes = mean(window.map((m) => m.bytes));
  const fraction = meanBytes / worker.budgetBytes;
  if (fraction <= t.memoryAlertFraction) return null;
  return {
    rule: "memory_sustained_high",
    severity: "warning",
    workerId: worker.workerId,
    message:
      `Mean memory over the last ${window.length} samples is ${gib(meanBytes)}, ${pct(fraction)} of the budget: ` +
      `reduce the batch size or optimise memory more aggressively — ${lowerMemoryAdvice(worker)}; ` +
      `int8 weights or shorter chunks also shrink each batch.`,
    numbers: {
      mean_memory_bytes: Math.round(meanBytes),
      budget_bytes: worker.budgetBytes,
      fraction_of_budget: round(fraction),
      samples: window.length,
      safety_margin: worker.safetyMargin,
      max_batch: worker.maxBatch,
    },
  };
}

/** The pools hold much more than the batches use: the seed's fragmentation threshold, over the latest sample that measured it. */
function memoryFragmentation(worker: WorkerReport, t: RecommendationThresholds): Recommendation | null {
  const latest = worker.samples.filter((s) => typeof s.fragmentation === "number").at(-1);
  const fragmentation = latest?.fragmentation;
  if (typeof fragmentation !== "number" || fragmentation <= t.fragmentationThreshold) return null;
  return {
    rule: "memory_fragmentation",
    severity: "info",
    workerId: worker.workerId,
    message:
      `After its batches the worker held ${pct(fragmentation)} more memory than the memory model says they used ` +
      `(threshold ${pct(t.fragmentationThreshold)}): the arenas keep their largest batch. If memory is short, try memory.pool ` +
      `settings (memory.pool.memoryPattern false, or memory.pool.cpuArena false on CPU; npm run bench:pool measures them) ` +
      `or recalibrate the memory model (npm run calibrate).`,
    numbers: { fragmentation: round(fragmentation), fragmentation_threshold: t.fragmentationThreshold },
  };
}

/** What the feedback loop saw but cannot act on by itself. */
function memoryFeedbackLimit(worker: WorkerReport): Recommendation | null {
  const limits = worker.samples.at(-1)?.memoryLimits ?? [];
  if (limits.length === 0) return null;
  return {
    rule: "memory_feedback_limit",
    severity: "warning",
    workerId: worker.workerId,
    message: `The memory feedback loop has reached what it may change: ${limits.join("; ")}.`,
    numbers: { limits: limits.length },
  };
}

function throughputBelowExpected(worker: WorkerReport, t: RecommendationThresholds): Recommendation | null {
  const busy = worker.samples.filter((s) => s.batches > 0 && s.busySeconds > 0);
  const batches = busy.reduce((n, s) => n + s.batches, 0);
  if (batches < t.minBatchesForThroughput) return null;
  const audioSeconds = busy.reduce((n, s) => n + s.audioSeconds, 0);
  const busySeconds = busy.reduce((n, s) => n + s.busySeconds, 0);
  const throughput = audioSeconds / busySeconds;
  if (throughput >= t.expectedThroughput) return null;
  const memory = memoryFractions(worker).filter((m) => m.sample.batches > 0);
  const memoryFraction = memory.length > 0 ? mean(memory.map((m) => m.fraction)) : 0;
  const meanBatch = busy.reduce((n, s) => n + s.batchSizeMean * s.batches, 0) / batches;
  const lowMemory = memoryFraction < t.lowMemoryFraction;
  const cause = lowMemory
    ? `with memory at only ${pct(memoryFraction)} of the budget the GPU is not the limit: decoding or audio preprocessing ` +
      `is the bottleneck — check audio preprocessing (feature extraction, resampling) or the model configuration ` +
      `(execution provider, weights dtype)`
    : `with memory at ${pct(memoryFraction)} of the budget the batches are large yet slow — check the model configuration ` +
      `(execution provider, weights dtype) and the GPU itself`;
  return {
    rule: "throughput_below_expected",
    severity: "warning",
    workerId: worker.workerId,
    message: `Throughput is ${throughput.toFixed(2)} audio-seconds per engine-second, below the expected ${t.expectedThroughput}; ${cause}.`,
    numbers: {
      throughput: round(throughput),
      expected_throughput: t.expectedThroughput,
      audio_seconds: round(audioSeconds),
      busy_seconds: round(busySeconds),
      batches,
      mean_batch_size: round(meanBatch, 2),
      memory_fraction_of_budget: round(memoryFraction),
      low_memory_fraction: t.lowMemoryFraction,
    },
  };
}

/** Jobs wait longer and longer before a worker starts them: arrivals outpace the fleet. */
function queueWaitGrowing(live: WorkerReport[], t: RecommendationThresholds): Recommendation | null {
  const points = live
    .flatMap((w) => w.samples.flatMap((s) => (s.queueWaitSecondsMean === null ? [] : [{ at: Date.parse(s.at), wait: s.queueWaitSecondsMean }])))
    .sort((a, b) => a.at - b.at);
  if (points.length < t.queueWaitMinPoints) return null;
  const half = Math.floor(points.length / 2);
  const earlier = mean(points.slice(0, half).map((p) => p.wait));
  const later = mean(points.slice(points.length - half).map((p) => p.wait));
  const slope = leastSquaresSlope(points.map((p) => ({ x: (p.at - points[0].at) / 60_000, y: p.wait })));
  if (!(later >= earlier * t.queueWaitRiseFactor && later - earlier >= t.queueWaitMinRiseSeconds && slope > 0)) return null;
  const minutes = (points[points.length - 1].at - points[0].at) / 60_000;
  return {
    rule: "queue_wait_growing",
    severity: "warning",
    message:
      `Queue wait is growing: from ${earlier.toFixed(1)} s to ${later.toFixed(1)} s over the last ${minutes.toFixed(1)} min ` +
      `(+${slope.toFixed(1)} s per minute). Jobs arrive faster than ${live.length} worker${live.length === 1 ? "" : "s"} ` +
      `finish them: add workers.`,
    numbers: {
      earlier_mean_seconds: round(earlier),
      later_mean_seconds: round(later),
      slope_seconds_per_minute: round(slope),
      window_minutes: round(minutes),
      points: points.length,
      live_workers: live.length,
    },
  };
}

function leastSquaresSlope(points: { x: number; y: number }[]): number {
  const mx = mean(points.map((p) => p.x));
  const my = mean(points.map((p) => p.y));
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

function workerSilent(worker: WorkerReport, now: Date): Recommendation | null {
  if (worker.stoppedAt !== null) return null; // stopped on purpose
  // Its last heartbeat said it was stopping (a graceful stop whose final write did not land): not a crash.
  if (worker.stoppingSince) return null;
  const age = ageSeconds(worker, now);
  return {
    rule: "worker_silent",
    severity: "warning",
    workerId: worker.workerId,
    message:
      `Worker ${worker.workerId} on ${worker.hostname} last reported ${Math.round(age)} s ago without stopping: it may have ` +
      `crashed. Its jobs return to the queue when their visibility timeout ends.`,
    numbers: { seconds_since_heartbeat: Math.round(age) },
  };
}

function noWorkerReporting(workers: WorkerReport[], now: Date, t: RecommendationThresholds): Recommendation {
  const newest = workers.reduce<number | null>((m, w) => Math.min(m ?? Infinity, ageSeconds(w, now)), null);
  return {
    rule: "no_worker_reporting",
    severity: "critical",
    message: `No GPU worker has reported in the last ${t.staleAfterSeconds} s: new jobs stay queued until one runs.`,
    numbers: { known_workers: workers.length, ...(newest === null ? {} : { seconds_since_newest_heartbeat: Math.round(newest) }) },
  };
}

function healthy(live: WorkerReport[], t: RecommendationThresholds): Recommendation {
  const memory = live.flatMap((w) => memoryFractions(w).slice(-t.memoryWindowSamples).map((m) => m.fraction));
  const samples = live.flatMap((w) => w.samples);
  const busySeconds = samples.reduce((n, s) => n + s.busySeconds, 0);
  const audioSeconds = samples.reduce((n, s) => n + s.audioSeconds, 0);
  const waits = samples.flatMap((s) => (s.queueWaitSecondsMean === null ? [] : [s.queueWaitSecondsMean]));
  const numbers: Record<string, number> = { live_workers: live.length };
  const parts: string[] = [];
  if (memory.length > 0) {
    numbers.peak_memory_fraction_of_budget = round(Math.max(...memory));
    parts.push(`memory peaked at ${pct(numbers.peak_memory_fraction_of_budget)} of the budget`);
  }
  if (busySeconds > 0) {
    numbers.throughput = round(audioSeconds / busySeconds);
    parts.push(`throughput ${numbers.throughput.toFixed(1)} audio-s per engine-s`);
  }
  if (waits.length > 0) {
    numbers.queue_wait_seconds_mean = round(mean(waits));
    parts.push(`mean queue wait ${numbers.queue_wait_seconds_mean.toFixed(1)} s`);
  }
  const detail = parts.length > 0 ? `: ${parts.join(", ")}` : "";
  return {
    rule: "healthy",
    severity: "info",
    message: `Healthy — no rule fires over the window of ${live.length} live worker${live.length === 1 ? "" : "s"}${detail}.`,
    numbers,
  };
}
