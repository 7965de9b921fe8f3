import { seededRandom } from "../shared/seeded-random.js";
import { audioTokenCount, frameCount, type ModelConfig } from "../shared/model-config.js";
import {
  kvBytesPerToken,
  promptTokens,
  weightBytes,
  weightTensors,
  type Decoding,
  type ItemShape,
  type MemoryDtypes,
} from "../gpu-worker/scheduler/memory-model.js";
import type { WorkItem } from "../gpu-worker/scheduler/planner.js";

/**
 * The batcher benchmark's inputs, both pure and seeded: a workload trace (jobs → ≤ 30 s work items) and a cost
 * model of Qwen3-ASR-1.7B on one H100 (seconds per engine batch).
 */

// ------------------------------------------------------------------------------------------------ trace

export type JobClass = "short" | "medium" | "long";

export interface Job {
  id: string;
  jobClass: JobClass;
  durationSeconds: number;
  arrivalMs: number;
  /** Text tokens the speaker produces per second of audio. */
  tokensPerSecond: number;
}

/** A work item plus what the simulation needs to know and the planner does not. */
export type BenchItem = WorkItem & {
  frames: number;
  jobClass: JobClass;
  /** This item's share of its job's audio (its length minus the overlap it repeats), for throughput. */
  creditSeconds: number;
  /** Tokens the model would actually write before its end token. */
  spokenTokens: number;
};

export const TRACE = {
  jobs: 2000,
  /** 60 % under 30 s, 30 % 30–120 s, 10 % 2–20 min; durations uniform within a class. */
  classes: [
    { jobClass: "short", share: 0.6, seconds: [1, 30] },
    { jobClass: "medium", share: 0.3, seconds: [30, 120] },
    { jobClass: "long", share: 0.1, seconds: [120, 1200] },
  ] as const,
  chunkSeconds: 30,
  overlapSeconds: 1,
  /** Speech at 2–4.5 tokens/s (mean ≈ 3.3, the design note's figure). */
  tokensPerSecond: [2, 4.5] as const,
  /** "language X<asr_text>" before the text, the end token after it. */
  preambleTokens: 3,
  endTokens: 1,
};


/** Jobs with Poisson arrivals at `arrivalsPerSecond`. */
export function generateJobs(seed: number, count: number, arrivalsPerSecond: number): Job[] {
  const random = seededRandom(seed);
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * random();
  const jobs: Job[] = [];
  let clock = 0;
  for (let i = 0; i < count; i++) {
    clock += -Math.log(1 - random()) / arrivalsPerSecond;
    const u = random();
    let cumulative = 0;
    const spec = TRACE.classes.find((c) => (cumulative += c.share) > u) ?? TRACE.classes[TRACE.classes.length - 1]!;
    jobs.push({
      id: `job${String(i).padStart(4, "0")}`,
      jobClass: spec.jobClass,
      durationSeconds: uniform(spec.seconds[0], spec.seconds[1]),
      arrivalMs: clock * 1000,
      tokensPerSecond: uniform(TRACE.tokensPerSecond[0], TRACE.tokensPerSecond[1]),
    });
  }
  return jobs;
}

/** Cuts every job longer than one chunk into chunks that overlap their predecessor by `overlapSeconds`. */
export function cutIntoItems(config: ModelConfig, jobs: readonly Job[], chunkSeconds: number, overlapSeconds: number): BenchItem[] {
  const items: BenchItem[] = [];
  for (const job of jobs) {
    for (let start = 0, k = 0; ; start += chunkSeconds - overlapSeconds, k++) {
      const end = Math.min(start + chunkSeconds, job.durationSeconds);
      const seconds = end - start;
      items.push({
        id: `${job.id}#${k}`,
        jobId: job.id,
        frames: frameCount(config, Math.round(seconds * config.qwen3_asr.sample_rate)),
        arrivalMs: job.arrivalMs,
        jobClass: job.jobClass,
        creditSeconds: k === 0 ? seconds : seconds - overlapSeconds,
        spokenTokens: TRACE.preambleTokens + Math.round(job.tokensPerSecond * seconds) + TRACE.endTokens,
      });
      if (end >= job.durationSeconds) break;
    }
  }
  return items;
}

// ------------------------------------------------------------------------------------------- cost model

/**
 * Qwen3-ASR-1.7B on one H100 SXM, from first principles (no measurement yet):
 * - decode is memory-bound: every step reads the decoder's weights (≈ 3.4 GB in bf16 → ≈ 1 ms) plus the KV
 *   cache of the rows still running;
 * - encoder and prefill are compute-bound, FLOPs counted from the config's dimensions.
 */
export const COST = {
  /** H100 SXM HBM3. */
  hbmBytesPerSecond: 3.35e12,
  /** What large bf16 GEMMs reach in practice, about half the 989 TFLOP/s dense peak. */
  effectiveFlops: 500e12,
  /** The engine copies each step's float32 logits [B, 1, vocab] to the host for the argmax (PCIe, small copies). */
  hostLinkBytesPerSecond: 25e9,
  /** KV bytes moved per cached token per step: attention reads the past, the concat copies it into `present`. */
  kvTrafficPerStep: 3,
  /**
   * Launch and host overhead per onnxruntime call. Left at 0 as the brief's model has none; a real ORT decode
   * step without CUDA graphs spends milliseconds here, which would favour batching further.
   */
  callOverheadSeconds: 0,
  /**
   * Host loop (decoder.onnx driven from JS, as onnxruntime-node must: no CUDA device tensors): every step is one
   * session run whose inputs (past KV) go host → device and whose outputs (present KV, logits) come back, plus
   * the argmax over the vocabulary in JavaScript (measured ≈ 0.175 ms per row per step on this CPU).
   */
  hostRunOverheadSeconds: 0.5e-3,
  jsArgmaxSecondsPerRow: 0.175e-3,
  /** Graph loop (generate.onnx): one Loop iteration's kernel launches and control flow, no host copies. */
  loopStepOverheadSeconds: 0.2e-3,
};

/** What the cost model needs of an item: the planner's view plus the tokens it will really write. */
export type CostItem = ItemShape & { spokenTokens: number };

export interface BatchCost {
  seconds: number;
  encoderSeconds: number;
  prefillSeconds: number;
  decodeSeconds: number;
  decodeSteps: number;
  encoderCalls: number;
}

interface ModelFlops {
  encoderPerChunk: number;
  encoderPerToken: number;
  encoderAttentionPerToken2: number;
  decoderPerToken: number;
  decoderAttentionPerToken2: number;
  lmHeadPerRow: number;
  encoderWeightBytes: number;
  decoderWeightBytes: number;
}

const flopsCache = new WeakMap<ModelConfig, Map<string, ModelFlops>>();

function modelFlops(config: ModelConfig, dtypes: MemoryDtypes): ModelFlops {
  const cache = flopsCache.get(config) ?? new Map<string, ModelFlops>();
  flopsCache.set(config, cache);
  const key = `${dtypes.weights}/${dtypes.io}`;
  const cached = cache.get(key) ?? computeModelFlops(config, dtypes);
  cache.set(key, cached);
  return cached;
}

function computeModelFlops(config: ModelConfig, dtypes: MemoryDtypes): ModelFlops {
  const q = config.qwen3_asr;
  const a = q.audio_encoder;
  const ch = a.downsample_hidden_size;
  const matmulParams = (graph: "encoder" | "decoder", keep: (name: string) => boolean): number =>
    weightTensors(config)
      .filter((t) => t.graph === graph && t.placement === "device" && t.parameter && t.shape.length === 2 && keep(t.name))
      .reduce((n, t) => n + t.copies * t.shape[0]! * t.shape[1]!, 0);
  // Per 100-frame chunk: three 3×3 stride-2 convolutions over mel × time, then conv_out on 13 rows.
  const half = (n: number): number => Math.floor((n - 1) / 2) + 1;
  let f = a.num_mel_bins;
  let t = 2 * config.n_window;
  let inCh = 1;
  let convFlops = 0;
  for (let i = 0; i < 3; i++) {
    f = half(f);
    t = half(t);
    convFlops += 2 * f * t * ch * inCh * 9;
    inCh = ch;
  }
  return {
    encoderPerChunk: convFlops + 2 * t * ch * f * a.d_model,
    encoderPerToken: 2 * matmulParams("encoder", (n) => !n.includes("conv_out")),
    encoderAttentionPerToken2: 4 * a.encoder_layers * a.d_model,
    decoderPerToken: 2 * matmulParams("decoder", (n) => n !== "lm_head.weight"),
    decoderAttentionPerToken2: 4 * q.num_hidden_layers * q.num_attention_heads * q.head_dim,
    lmHeadPerRow: 2 * q.hidden_size * q.vocab_size,
    encoderWeightBytes: weightBytes(config, dtypes.weights, "encoder"),
    decoderWeightBytes: weightBytes(config, dtypes.weights, "decoder"),
  };
}

/** Seconds to run `batch` as one engine batch: packed encoder calls, one prefill, then decode steps. */
export function batchCost(
  config: ModelConfig,
  dtypes: MemoryDtypes,
  batch: readonly CostItem[],
  encoderSlicesPerCall: number,
  decoding: Decoding = "host",
): BatchCost {
  const m = modelFlops(config, dtypes);
  const timeOf = (flops: number, bytes: number): number =>
    Math.max(flops / COST.effectiveFlops, bytes / COST.hbmBytesPerSecond) + COST.callOverheadSeconds;

  // Encoder: each clip's ≤ 800-frame slices, packed in batch order, `encoderSlicesPerCall` per call.
  const slices = batch.flatMap((item) => sliceFrames(item.frames, config.n_window_infer));
  let encoderSeconds = 0;
  let encoderCalls = 0;
  for (let i = 0; i < slices.length; i += encoderSlicesPerCall) {
    const call = slices.slice(i, i + encoderSlicesPerCall);
    const chunks = call.reduce((n, s) => n + Math.ceil(s / (2 * config.n_window)), 0);
    const tokens = call.reduce((n, s) => n + audioTokenCount(config, s), 0);
    const flops = chunks * m.encoderPerChunk + tokens * m.encoderPerToken + tokens * tokens * m.encoderAttentionPerToken2;
    encoderSeconds += timeOf(flops, m.encoderWeightBytes);
    encoderCalls++;
  }

  // Prefill: every row left-padded to the longest prompt S; logits for the last position only.
  const rows = batch.length;
  const S = Math.max(0, ...batch.map((item) => promptTokens(config, item)));
  const prefillFlops = rows * S * m.decoderPerToken + rows * S * S * m.decoderAttentionPerToken2 + rows * m.lmHeadPerRow;
  const prefillSeconds = rows === 0 ? 0 : timeOf(prefillFlops, m.decoderWeightBytes);

  // Decode: prefill wrote each row's first token; a row leaves when it writes its last (end token or bound).
  // A chunk that outgrows its reservation is continued (decoded again with a doubled bound): its whole length.
  const written = batch.map((item) => item.spokenTokens).sort((a, b) => a - b);
  const steps = Math.max(0, (written[written.length - 1] ?? 0) - 1);
  const kvPerToken = kvBytesPerToken(config, dtypes.io);
  let decodeSeconds = 0;
  let done = 0;
  for (let step = 1; step <= steps; step++) {
    while (done < written.length && written[done]! <= step) done++;
    // The host loop drops rows as they end; the graph loop computes every row until the last one ends.
    const alive = decoding === "graph" ? rows : rows - done;
    const cached = alive * (S + step) * kvPerToken;
    const compute = alive * (m.decoderPerToken + m.lmHeadPerRow) + alive * (S + step) * m.decoderAttentionPerToken2;
    if (decoding === "graph") {
      // Attention reads the prompt and generated caches; only the generated part is copied into the next carry.
      const generatedCopy = 2 * alive * step * kvPerToken;
      decodeSeconds += timeOf(compute, m.decoderWeightBytes + cached + generatedCopy) + COST.loopStepOverheadSeconds;
    } else {
      decodeSeconds +=
        timeOf(compute, m.decoderWeightBytes + COST.kvTrafficPerStep * cached) +
        (2 * cached + alive * config.qwen3_asr.vocab_size * 4) / COST.hostLinkBytesPerSecond +
        COST.hostRunOverheadSeconds +
        alive * COST.jsArgmaxSecondsPerRow;
    }
  }
  return {
    seconds: encoderSeconds + prefillSeconds + decodeSeconds,
    encoderSeconds,
    prefillSeconds,
    decodeSeconds,
    decodeSteps: steps,
    encoderCalls,
  };
}

function sliceFrames(frames: number, sliceSize: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < frames; start += sliceSize) out.push(Math.min(sliceSize, frames - start));
  return out;
}
