import type { ModelConfig, WeightsDtype } from "../../shared/model-config.js";
import { defaultCalibration, type Calibration } from "./calibration.js";
import {
  DEFAULT_ENCODER_SLICES_PER_CALL,
  durationSecondsOf,
  estimateBatchBytes,
  promptTokens,
  sequenceTokens,
  type Decoding,
  type IoDtype,
  type ItemShape,
  type MemoryBreakdown,
} from "./memory-model.js";

/**
 * The dynamic batch planner: which queued work items the engine runs next (pure and deterministic).
 *
 * Policy, in order:
 * 1. Items that cannot run even alone (or are malformed) are rejected with a reason, never thrown.
 * 2. Overdue items (waited ≥ maxWaitMs) join first, oldest first; if one does not fit, the batch is theirs alone.
 * 3. Otherwise the oldest item anchors the batch — so long items are never starved behind short ones — and the
 *    items nearest to it in sequence length fill it, which keeps left-padding small.
 * 4. An item joins only while the modelled peak stays ≤ budget × (1 − safetyMargin), the batch < maxBatch and
 *    padding leaves at most maxPaddingWaste of the batch's token slots empty.
 * 5. The encoder packing (slices per call) is fixed per worker (maxEncoderSlicesPerCall) and counted in every
 *    batch: the encoder's arena keeps its largest call, so choosing it per batch would not bound memory.
 */

type AudioLength = { frames: number; durationSeconds?: undefined } | { durationSeconds: number; frames?: undefined };

/** A chunk of ≤ 30 s cut from long audio, or a whole short file. */
export type WorkItem = AudioLength & {
  id: string;
  jobId: string;
  arrivalMs: number;
  maxNewTokens?: number;
  forcedLanguage?: string;
  contextTokens?: number;
};

export interface PlannerConfig {
  /** Device memory the worker may use, counted as in memory-model.ts. */
  budgetBytes: number;
  /** Fraction of the budget kept free for what the model misses. */
  safetyMargin: number;
  maxWaitMs: number;
  maxBatch: number;
  /**
   * Most of a batch's planned token slots that left-padding may leave empty (rows × (longest prompt + longest
   * bound) vs what the rows need). Padding costs compute and KV memory; overdue items ignore it.
   */
  maxPaddingWaste: number;
  weightsDtype: WeightsDtype;
  ioDtype: IoDtype;
  maxEncoderSlicesPerCall: number;
  calibration: Calibration;
  /** The engine's decoding loop (Qwen3AsrEngine.decoding): it decides how the KV cache is held. */
  decoding: Decoding;
}

export const DEFAULT_BUDGET_BYTES = 5 * 2 ** 30;
export const DEFAULT_SAFETY_MARGIN = 0.05;
export const DEFAULT_MAX_WAIT_MS = 30_000;
export const DEFAULT_MAX_BATCH = 64;
export const DEFAULT_MAX_PADDING_WASTE = 0.1;

/** A full config from the model's own dtypes and the defaults above; throws on an unusable setting. */
export function plannerConfig(model: ModelConfig, overrides: Partial<PlannerConfig> = {}): PlannerConfig {
  const config: PlannerConfig = {
    budgetBytes: DEFAULT_BUDGET_BYTES,
    safetyMargin: DEFAULT_SAFETY_MARGIN,
    maxWaitMs: DEFAULT_MAX_WAIT_MS,
    maxBatch: DEFAULT_MAX_BATCH,
    maxPaddingWaste: DEFAULT_MAX_PADDING_WASTE,
    weightsDtype: model.qwen3_asr.weights_dtype,
    ioDtype: model.qwen3_asr.io_dtype,
    maxEncoderSlicesPerCall: DEFAULT_ENCODER_SLICES_PER_CALL,
    calibration: defaultCalibration,
    decoding: "host",
    ...overrides,
  };
  if (!(config.budgetBytes > 0)) throw new RangeError("budgetBytes must be positive");
  if (!(config.safetyMargin >= 0 && config.safetyMargin < 1)) throw new RangeError("safetyMargin must be in [0, 1)");
  if (!(config.maxWaitMs >= 0)) throw new RangeError("maxWaitMs must be non-negative");
  if (!Number.isInteger(config.maxBatch) || config.maxBatch < 1) throw new RangeError("maxBatch must be an integer ≥ 1");
  if (!(config.maxPaddingWaste >= 0 && config.maxPaddingWaste <= 1)) throw new RangeError("maxPaddingWaste must be in [0, 1]");
  if (!Number.isInteger(config.maxEncoderSlicesPerCall) || config.maxEncoderSlicesPerCall < 1) {
    throw new RangeError("maxEncoderSlicesPerCall must be an integer ≥ 1");
  }
  return config;
}

export interface Rejection<T extends WorkItem> {
  item: T;
  reason: string;
}

export interface Plan<T extends WorkItem> {
  batch: T[];
  /** Items that can never run under this budget or are malformed; the caller fails them and drops them. */
  rejected: Rejection<T>[];
  /** The chosen batch's modelled memory; null when the batch is empty. */
  breakdown: MemoryBreakdown | null;
  /** Encoder slices per call the engine must use for this batch. */
  encoderSlicesPerCall: number;
  /** budget × (1 − safetyMargin), the ceiling every batch respects. */
  limitBytes: number;
}

interface Candidate<T extends WorkItem> {
  item: T;
  shape: ItemShape;
  /** Prompt + generation bound. */
  tokens: number;
  prompt: number;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(3)} GiB (${bytes.toLocaleString("en-US")} B)`;

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;

/** The engine's view of an item, or why the item cannot be run at all. */
function shapeOf(model: ModelConfig, item: WorkItem): ItemShape | string {
  if (!Number.isFinite(item.arrivalMs)) return "arrivalMs is not a finite number";
  let frames: number;
  if (item.frames !== undefined) {
    if (!isCount(item.frames)) return `frames ${item.frames} is not a non-negative integer`;
    frames = item.frames;
  } else {
    const seconds = item.durationSeconds;
    if (!(Number.isFinite(seconds) && seconds >= 0)) return `durationSeconds ${seconds} is not a non-negative number`;
    // Rounded up: one frame too many only over-reserves.
    frames = Math.ceil((seconds * model.qwen3_asr.sample_rate) / model.hop_length);
  }
  if (item.maxNewTokens !== undefined && !isCount(item.maxNewTokens)) {
    return `maxNewTokens ${item.maxNewTokens} is not a non-negative integer`;
  }
  if (item.forcedLanguage !== undefined && model.language_suffix_ids[item.forcedLanguage] === undefined) {
    return `forced language "${item.forcedLanguage}" has no language_suffix_ids in config.json`;
  }
  if (item.contextTokens !== undefined && !isCount(item.contextTokens)) return `contextTokens ${item.contextTokens} is not a non-negative integer`;
  return { frames, maxNewTokens: item.maxNewTokens, forcedLanguage: item.forcedLanguage, contextTokens: item.contextTokens };
}

const byAge = <T extends WorkItem>(a: Candidate<T>, b: Candidate<T>): number =>
  a.item.arrivalMs - b.item.arrivalMs || (a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0);

/** Plans the next engine batch from the local queue at time `nowMs`. */
export function planNextBatch<T extends WorkItem>(
  model: ModelConfig,
  queue: readonly T[],
  nowMs: number,
  config: PlannerConfig,
): Plan<T> {
  const limitBytes = Math.floor(config.budgetBytes * (1 - config.safetyMargin));
  const dtypes = { weights: config.weightsDtype, io: config.ioDtype };
  const estimate = (batch: readonly Candidate<T>[], slicesPerCall: number): MemoryBreakdown =>
    estimateBatchBytes(
      model,
      dtypes,
      batch.map((c) => c.shape),
      { encoderSlicesPerCall: slicesPerCall, calibration: config.calibration, decoding: config.decoding },
    );

  const rejected: Rejection<T>[] = [];
  const feasible: Candidate<T>[] = [];
  for (const item of queue) {
    const shape = shapeOf(model, item);
    if (typeof shape === "string") {
      rejected.push({ item, reason: `item ${item.id} (job ${item.jobId}) is malformed: ${shape}` });
      continue;
    }
    const candidate = { item, shape, tokens: sequenceTokens(model, shape), prompt: promptTokens(model, shape) };
    const alone = estimate([candidate], config.maxEncoderSlicesPerCall);
    if (alone.total > limitBytes) {
      rejected.push({ item, reason: tooLargeReason(model, candidate, alone, limitBytes, config) });
      continue;
    }
    feasible.push(candidate);
  }

  const slicesPerCall = config.maxEncoderSlicesPerCall;
  const batch = chooseBatch(feasible, nowMs, config, (b) => estimate(b, slicesPerCall).total <= limitBytes);
  if (batch.length === 0) return { batch: [], rejected, breakdown: null, encoderSlicesPerCall: slicesPerCall, limitBytes };
  return { batch: batch.map((c) => c.item), rejected, breakdown: estimate(batch, slicesPerCall), encoderSlicesPerCall: slicesPerCall, limitBytes };
}

/** Share of planned token slots left empty by padding every row to the longest prompt and longest bound. */
function paddingWaste<T extends WorkItem>(batch: readonly Candidate<T>[]): number {
  const prompt = Math.max(...batch.map((c) => c.prompt));
  const bound = Math.max(...batch.map((c) => c.tokens - c.prompt));
  const planned = batch.length * (prompt + bound);
  const used = batch.reduce((s, c) => s + c.tokens, 0);
  return planned > 0 ? 1 - used / planned : 0;
}

/** Steps 2–4 of the policy over items that each fit alone. */
function chooseBatch<T extends WorkItem>(
  feasible: readonly Candidate<T>[],
  nowMs: number,
  config: PlannerConfig,
  fits: (batch: readonly Candidate<T>[]) => boolean,
): Candidate<T>[] {
  const batch: Candidate<T>[] = [];
  const tryAdd = (c: Candidate<T>, overdue = false): boolean => {
    if (batch.length >= config.maxBatch || !fits([...batch, c])) return false;
    if (!overdue && batch.length > 0 && paddingWaste([...batch, c]) > config.maxPaddingWaste) return false;
    batch.push(c);
    return true;
  };

  const oldestFirst = [...feasible].sort(byAge);
  const anchor = oldestFirst[0];
  if (anchor === undefined) return batch;
  for (const c of oldestFirst) {
    if (nowMs - c.item.arrivalMs < config.maxWaitMs) break;
    if (!tryAdd(c, true)) return batch;
  }
  if (batch.length === 0) tryAdd(anchor);

  const taken = new Set(batch);
  const rest = feasible.filter((c) => !taken.has(c));
  const shorter = rest.filter((c) => c.tokens <= anchor.tokens).sort((a, b) => b.tokens - a.tokens || byAge(a, b));
  const longer = rest.filter((c) => c.tokens > anchor.tokens).sort((a, b) => a.tokens - b.tokens || byAge(a, b));
  // Grow a window around the anchor's length, nearest first. A side closes at its first misfit: further out on
  // the longer side costs more, and on the shorter side every row is padded to the same length anyway.
  type Side = "shorter" | "longer";
  const nearer = (a: Candidate<T> | undefined, b: Candidate<T> | undefined): [Side, Candidate<T>] | null => {
    if (a === undefined) return b === undefined ? null : ["longer", b];
    if (b === undefined) return ["shorter", a];
    const da = anchor.tokens - a.tokens;
    const db = b.tokens - anchor.tokens;
    return da < db || (da === db && byAge(a, b) <= 0) ? ["shorter", a] : ["longer", b];
  };
  let s = 0;
  let l = 0;
  let shorterOpen = true;
  let longerOpen = true;
  while (batch.length < config.maxBatch) {
    const next = nearer(shorterOpen ? shorter[s] : undefined, longerOpen ? longer[l] : undefined);
    if (next === null) break;
    const [side, candidate] = next;
    if (side === "shorter") {
      s++;
      shorterOpen = tryAdd(candidate);
    } else {
      l++;
      longerOpen = tryAdd(candidate);
    }
  }
  return batch;
}

function tooLargeReason<T extends WorkItem>(
  model: ModelConfig,
  c: Candidate<T>,
  alone: MemoryBreakdown,
  limitBytes: number,
  config: PlannerConfig,
): string {
  const seconds = durationSecondsOf(model, c.shape.frames).toFixed(2);
  const terms = (["weights", "runtimeReserve", "kvCache", "encoderActivations", "prefillActivations"] as const)
    .map((t) => `${t} ${(alone[t] / 2 ** 20).toFixed(1)} MiB`)
    .join(", ");
  return (
    `item ${c.item.id} (job ${c.item.jobId}, ${seconds} s, ${c.tokens} sequence tokens) needs ${gib(alone.total)} ` +
    `even alone (${terms}), over the limit of ${gib(limitBytes)} = budget ${gib(config.budgetBytes)} × ` +
    `(1 − safety margin ${config.safetyMargin}); cut it into shorter chunks or raise the budget`
  );
}
