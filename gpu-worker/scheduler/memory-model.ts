import {
  audioTokenCount,
  chunkFrames,
  convOutLength,
  type ModelConfig,
  type WeightsDtype,
} from "../../shared/model-config.js";
import { defaultCalibration, type Calibration } from "./calibration.js";

/**
 * Device memory of one engine batch, term by term, from config.json dimensions (pure, no I/O).
 *
 * Budget counted: the process's device memory as the driver reports it — everything the onnxruntime arenas
 * allocate (weights, KV cache, activations, I/O tensors) plus the runtime reserve, which carries what the
 * allocator does not see (the CUDA context, cuBLAS/cuDNN handles and workspaces) and arena slack.
 *
 * Peak = weights + reserve + encoder + max(prefill phase, decode phase):
 * - the encoder runs in its own session whose arena keeps its high-water mark, so its working set (one call
 *   of `encoderSlicesPerCall` slices, fixed per worker) is counted on top of everything else;
 * - prefill and decode alternate inside the decoder session and reuse its arena: the prefill phase holds the
 *   prefill working set and the first `present` cache (one copy at prompt length), the decode phase holds
 *   past and present caches together (KV_COPIES_ALIVE) at their longest, plus step buffers; logits belong to
 *   both. The audio embeddings the encoder returns live on the host until prefill, where they are inputs.
 * Intermediates are counted as float32 (ACTIVATION_BYTES) whatever the I/O dtype: the contract computes in
 * float32 and a half-precision export keeps softmax and logits in float32; calibration corrects the rest.
 */

export type IoDtype = ModelConfig["qwen3_asr"]["io_dtype"];
export interface MemoryDtypes {
  weights: WeightsDtype;
  io: IoDtype;
}

/** One clip as the engine will run it. `maxNewTokens` defaults to the duration bound (maxNewTokensFor). */
export interface ItemShape {
  frames: number;
  maxNewTokens?: number;
  forcedLanguage?: string;
  /** Extra prompt tokens of a context (the system text of the prompt), beyond the empty-context prefix. */
  contextTokens?: number;
}

/** Where the greedy loop runs (engine option `decoding`): generate.onnx in one run, or decoder.onnx from JS. */
export type Decoding = "graph" | "host";

export interface MemoryModelOptions {
  /** Slices of ≤ n_window_infer frames the engine packs into one encoder call (engine option). */
  encoderSlicesPerCall?: number;
  /** Which loop holds the cache; default "host" (decoder.onnx), the worker passes the engine's. */
  decoding?: Decoding;
  /** Copies of the loop-carried cache alive at the decode peak (GENERATED_KV_COPIES / KV_COPIES_ALIVE). */
  kvCopiesAlive?: number;
  calibration?: Calibration;
}

export interface EncoderCallShape {
  slices: number;
  chunks: number;
  tokens: number;
}

export interface MemoryBreakdown {
  weights: number;
  runtimeReserve: number;
  kvCache: number;
  encoderActivations: number;
  prefillActivations: number;
  logits: number;
  ioBuffers: number;
  /** Which decoder phase sets the peak. */
  peakPhase: "prefill" | "decode";
  total: number;
  /** The shapes the terms were computed from, so a reader can redo the arithmetic. */
  shape: {
    batchSize: number;
    paddedPromptTokens: number;
    paddedSequenceTokens: number;
    largestEncoderCall: EncoderCallShape;
  };
}

// ---------------------------------------------------------------------------------------------- constants

/**
 * Output tokens per second of speech reserved for a chunk, by forced language: a high percentile, not the worst
 * case — a chunk that needs more is continued (the engine re-runs it with a doubled bound), never cut.
 * English ≈ 2.7–3.7 tokens/s (80–110 tokens per 30 s chunk); dense scripts need more: with the real Qwen3
 * tokenizer Hindi ≈ 15 and Thai ≈ 10 tokens/s (issue 15's measurement, on sample text at speaking rate).
 * Languages not listed, and auto-detected ones, get the default.
 */
export const OUTPUT_TOKENS_PER_SECOND: Readonly<Record<string, number>> = { English: 4.5, Hindi: 16, Thai: 11 };
export const DEFAULT_OUTPUT_TOKENS_PER_SECOND = 6;
/** Kept for callers that reserve without a language: the default rate. */
export const MAX_NEW_TOKENS_PER_SECOND = DEFAULT_OUTPUT_TOKENS_PER_SECOND;
/** Covers the "language X<asr_text>" preamble and the end token on very short clips. */
export const MAX_NEW_TOKENS_HEADROOM = 16;
/**
 * The hard bound a continued chunk may reach: far above any speech (≈ 25 tokens/s), so only a model stuck
 * repeating itself stops there, and its result says finish_reason "length".
 */
export const HARD_OUTPUT_TOKENS_PER_SECOND = 25;
export const HARD_OUTPUT_HEADROOM = 64;
/**
 * Host loop (decoder.onnx driven from JS): the merged decoder concatenates past and new keys into fresh
 * `present` tensors, so at every decode step the past [B, KV, P, D] and the present [B, KV, P+1, D] of every
 * layer are alive together, and rows leave the batch as they end.
 */
export const KV_COPIES_ALIVE = 2;
/**
 * Graph loop (generate.onnx): the prompt's cache is written once by the prefill and only read by the steps (one
 * copy); the generated tokens' cache is loop-carried, and onnxruntime's Loop allocates every iteration's outputs
 * anew and copies the last ones out, so that part is alive GENERATED_KV_COPIES times at the end of the loop
 * (measured by bench/kv-copies.ts). Rows stay in the batch until every row has ended.
 */
export const GENERATED_KV_COPIES = 3;
/**
 * Encoder slices (≤ 800 frames each) packed into one encoder call. Fixed per worker, not chosen per batch: the
 * encoder session's arena keeps the largest call it ever ran, so a batch-by-batch choice would not bound memory.
 */
export const DEFAULT_ENCODER_SLICES_PER_CALL = 1;
/** Bytes of every intermediate tensor (float32 compute, see the header). */
export const ACTIVATION_BYTES = 4;
const INDEX_BYTES = 8;
/** The export keeps tensors smaller than this in float32 (tools/qwen3_asr/onnx_export.py, convert_weights). */
export const MIN_CONVERTED_ELEMENTS = 1024;
/** Encoder: residual, LayerNorm output, q, k, v and attention context, each T × d_model. */
const ENCODER_HIDDEN_COPIES = 6;
/** Decoder prefill: residual, RMSNorm output and o_proj output, each S × hidden. */
const PREFILL_HIDDEN_COPIES = 3;
/** Decoder prefill: q, k and v expanded to the query heads, and the attention context, each S × heads × head_dim. */
const PREFILL_HEAD_COPIES = 4;
const CONV_KERNEL = 3;
/** Output length of one kernel-3, stride-2, padding-1 convolution. */
const strideTwo = (n: number): number => Math.floor((n - 1) / 2) + 1;

const ioBytes = (dtype: IoDtype): number => (dtype === "float16" ? 2 : 4);

// ------------------------------------------------------------------------------------------------ weights

export type Placement = "device" | "host";
export type Graph = "encoder" | "decoder";

/** A tensor of the exported graphs; `copies` is the layer count for per-layer tensors. */
export interface WeightTensor {
  graph: Graph;
  name: string;
  shape: readonly number[];
  copies: number;
  placement: Placement;
  /** Buffers (the sinusoid table) take memory but are not trained parameters. */
  parameter: boolean;
}

type TensorSpec = Omit<WeightTensor, "graph">;

const linear = (name: string, out: number, inp: number, copies: number, bias: boolean): TensorSpec[] => [
  { name: `${name}.weight`, shape: [out, inp], copies, placement: "device", parameter: true },
  ...(bias ? [{ name: `${name}.bias`, shape: [out], copies, placement: "device" as const, parameter: true }] : []),
];
const norm = (name: string, size: number, copies: number, bias: boolean): TensorSpec[] => [
  { name: `${name}.weight`, shape: [size], copies, placement: "device", parameter: true },
  ...(bias ? [{ name: `${name}.bias`, shape: [size], copies, placement: "device" as const, parameter: true }] : []),
];

function encoderTensors(config: ModelConfig): TensorSpec[] {
  const a = config.qwen3_asr.audio_encoder;
  const ch = a.downsample_hidden_size;
  const d = a.d_model;
  const L = a.encoder_layers;
  const conv = (name: string, inCh: number): TensorSpec[] => [
    { name: `${name}.weight`, shape: [ch, inCh, CONV_KERNEL, CONV_KERNEL], copies: 1, placement: "device", parameter: true },
    { name: `${name}.bias`, shape: [ch], copies: 1, placement: "device", parameter: true },
  ];
  return [
    ...conv("audio.conv2d1", 1),
    ...conv("audio.conv2d2", ch),
    ...conv("audio.conv2d3", ch),
    ...linear("audio.conv_out", d, ch * convOutLength(a.num_mel_bins), 1, false),
    { name: "audio.positional_embedding", shape: [a.max_source_positions, d], copies: 1, placement: "device", parameter: false },
    ...["q_proj", "k_proj", "v_proj", "out_proj"].flatMap((p) => linear(`audio.layers.*.self_attn.${p}`, d, d, L, true)),
    ...norm("audio.layers.*.self_attn_layer_norm", d, L, true),
    ...linear("audio.layers.*.fc1", a.encoder_ffn_dim, d, L, true),
    ...linear("audio.layers.*.fc2", d, a.encoder_ffn_dim, L, true),
    ...norm("audio.layers.*.final_layer_norm", d, L, true),
    ...norm("audio.ln_post", d, 1, true),
    ...linear("audio.proj1", d, d, 1, true),
    ...linear("audio.proj2", a.output_dim, d, 1, true),
  ];
}

function decoderTensors(config: ModelConfig): TensorSpec[] {
  const q = config.qwen3_asr;
  const H = q.hidden_size;
  const L = q.num_hidden_layers;
  const qDim = q.num_attention_heads * q.head_dim;
  const kvDim = q.num_key_value_heads * q.head_dim;
  return [
    // The engine runs embed_tokens on the CPU provider: the table lives in host memory.
    { name: "embed_tokens.weight", shape: [q.vocab_size, H], copies: 1, placement: "host", parameter: true },
    ...linear("layers.*.self_attn.q_proj", qDim, H, L, false),
    ...linear("layers.*.self_attn.k_proj", kvDim, H, L, false),
    ...linear("layers.*.self_attn.v_proj", kvDim, H, L, false),
    ...linear("layers.*.self_attn.o_proj", H, qDim, L, false),
    ...norm("layers.*.self_attn.q_norm", q.head_dim, L, false),
    ...norm("layers.*.self_attn.k_norm", q.head_dim, L, false),
    ...norm("layers.*.input_layernorm", H, L, false),
    ...norm("layers.*.post_attention_layernorm", H, L, false),
    ...linear("layers.*.mlp.gate_proj", q.intermediate_size, H, L, false),
    ...linear("layers.*.mlp.up_proj", q.intermediate_size, H, L, false),
    ...linear("layers.*.mlp.down_proj", H, q.intermediate_size, L, false),
    ...norm("norm", H, 1, false),
    // Tied to embed_tokens in the checkpoint, but decoder.onnx holds its own copy on the device.
    ...linear("lm_head", q.vocab_size, H, 1, false),
  ];
}

/** Every tensor of the three graphs, with where the engine keeps it. */
export const weightTensors = (config: ModelConfig): WeightTensor[] => [
  ...encoderTensors(config).map((t) => ({ ...t, graph: "encoder" as const })),
  ...decoderTensors(config).map((t) => ({ ...t, graph: "decoder" as const })),
];

const elements = (shape: readonly number[]): number => shape.reduce((n, s) => n * s, 1);

/** Stored bytes of one tensor; int8 keeps one float32 scale per row (axis 0), as the export does. */
export function tensorBytes(shape: readonly number[], dtype: WeightsDtype): number {
  const n = elements(shape);
  if (dtype === "float32" || n < MIN_CONVERTED_ELEMENTS) return 4 * n;
  if (dtype === "int8" || dtype === "int4") {
    // Weight-only MatMulNBits (tools/qwen3_asr/precision.py): matrices packed at 8 or 4 bits with one float32
    // scale per QUANT_BLOCK values; everything else (norms, convolutions) stays float32.
    if (shape.length !== 2) return 4 * n;
    return (dtype === "int8" ? n : n / 2) + (4 * n) / QUANT_BLOCK;
  }
  return 2 * n;
}

/** Values per MatMulNBits scale (the converter's default --block-size). */
export const QUANT_BLOCK = 32;

/** Trained parameters, optionally only those at one placement. */
export function parameterCount(config: ModelConfig, placement?: Placement): number {
  return weightTensors(config)
    .filter((t) => t.parameter && (placement === undefined || t.placement === placement))
    .reduce((sum, t) => sum + t.copies * elements(t.shape), 0);
}

// The planner asks for this on every estimate; configs are parsed once and never mutated, so cache per config.
const weightBytesCache = new WeakMap<ModelConfig, Map<string, number>>();

/** Bytes of the weights the engine keeps on the device (host-side embedding excluded), optionally of one graph. */
export function weightBytes(config: ModelConfig, dtype: WeightsDtype, graph?: Graph): number {
  const cache = weightBytesCache.get(config) ?? new Map<string, number>();
  weightBytesCache.set(config, cache);
  const key = `${dtype}/${graph ?? "all"}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const bytes = weightTensors(config)
    .filter((t) => t.placement === "device" && (graph === undefined || t.graph === graph))
    .reduce((sum, t) => sum + t.copies * tensorBytes(t.shape, dtype), 0);
  cache.set(key, bytes);
  return bytes;
}

/**
 * generate.onnx embeds each step's token on the device: from lm_head's weight when it is a float matrix (tied,
 * no extra bytes), from a half-precision copy of the embedding table when lm_head is quantized.
 */
export function graphEmbeddingBytes(config: ModelConfig, dtype: WeightsDtype, decoding: Decoding): number {
  if (decoding !== "graph" || (dtype !== "int8" && dtype !== "int4")) return 0;
  return config.qwen3_asr.vocab_size * config.qwen3_asr.hidden_size * 2;
}

// ----------------------------------------------------------------------------------------- tokens and KV

/** KV cache bytes per token of one sequence: layers × (K and V) × KV heads × head_dim × bytes. */
export function kvBytesPerToken(config: ModelConfig, ioDtype: IoDtype): number {
  const q = config.qwen3_asr;
  return q.num_hidden_layers * 2 * q.num_key_value_heads * q.head_dim * ioBytes(ioDtype);
}

/** Output reservation from the clip's duration and (forced) language, so a batch can never outgrow its plan. */
export const maxNewTokensFor = (durationSeconds: number, language?: string): number =>
  Math.ceil((OUTPUT_TOKENS_PER_SECOND[language ?? ""] ?? DEFAULT_OUTPUT_TOKENS_PER_SECOND) * durationSeconds) + MAX_NEW_TOKENS_HEADROOM;

/** How far a chunk that outgrows its reservation may be continued (see HARD_OUTPUT_TOKENS_PER_SECOND). */
export const hardMaxNewTokensFor = (durationSeconds: number): number =>
  Math.ceil(HARD_OUTPUT_TOKENS_PER_SECOND * durationSeconds) + HARD_OUTPUT_HEADROOM;

export const durationSecondsOf = (config: ModelConfig, frames: number): number =>
  (frames * config.hop_length) / config.qwen3_asr.sample_rate;

export const itemMaxNewTokens = (config: ModelConfig, item: ItemShape): number =>
  item.maxNewTokens ?? maxNewTokensFor(durationSecondsOf(config, item.frames), item.forcedLanguage);

/** Prompt length: prefix + A(F) audio tokens + suffix (the forced-language suffix is longer). */
export function promptTokens(config: ModelConfig, item: ItemShape): number {
  let suffix = config.prompt_suffix_ids.length;
  if (item.forcedLanguage !== undefined) {
    const ids = config.language_suffix_ids[item.forcedLanguage];
    if (ids === undefined) throw new RangeError(`no language_suffix_ids for forced language "${item.forcedLanguage}"`);
    suffix = ids.length;
  }
  return config.prompt_prefix_ids.length + (item.contextTokens ?? 0) + audioTokenCount(config, item.frames) + suffix;
}

/** Tokens one sequence can reach: prompt + its generation bound. */
export const sequenceTokens = (config: ModelConfig, item: ItemShape): number =>
  promptTokens(config, item) + itemMaxNewTokens(config, item);

/**
 * Peak KV rows × length. Rows are left-padded to the longest prompt S and leave the batch when they reach their
 * own bound, so at the step where the j-th longest bound m_j ends, j rows hold S + m_j tokens each.
 */
function peakKvRowTokens(paddedPrompt: number, maxNew: readonly number[]): number {
  const sorted = [...maxNew].sort((a, b) => b - a);
  return sorted.reduce((peak, m, j) => Math.max(peak, (j + 1) * (paddedPrompt + m)), 0);
}

// ------------------------------------------------------------------------------------------------ encoder

/**
 * The largest encoder call any packing of this batch's slices can make: the `slicesPerCall` biggest slices.
 * Every clip is cut into slices of ≤ n_window_infer frames; a slice spans ⌈f/100⌉ chunks and A(f) tokens.
 */
export function largestEncoderCall(config: ModelConfig, frames: readonly number[], slicesPerCall: number): EncoderCallShape {
  const sliceFrames = config.n_window_infer;
  const fullSlices = frames.reduce((n, f) => n + Math.floor(f / sliceFrames), 0);
  const full = Math.min(fullSlices, slicesPerCall);
  const partials = frames
    .map((f) => f % sliceFrames)
    .filter((r) => r > 0)
    .sort((a, b) => b - a)
    .slice(0, slicesPerCall - full);
  const chunk = chunkFrames(config);
  const sliceChunks = (f: number): number => Math.ceil(f / chunk);
  return {
    slices: full + partials.length,
    chunks: full * sliceChunks(sliceFrames) + partials.reduce((n, r) => n + sliceChunks(r), 0),
    tokens: full * audioTokenCount(config, sliceFrames) + partials.reduce((n, r) => n + audioTokenCount(config, r), 0),
  };
}

/** One encoder call's working set: inputs, the larger of the convolution and transformer phases, the output. */
function encoderActivationBytes(config: ModelConfig, call: EncoderCallShape): number {
  const a = config.qwen3_asr.audio_encoder;
  const B = ACTIVATION_BYTES;
  const { chunks: C, tokens: T } = call;
  const inputs = C * a.num_mel_bins * chunkFrames(config) * B + T * INDEX_BYTES + T * T * B;
  // The first convolution's map is the largest; its output and GELU output are alive together.
  const firstConvMap = C * a.downsample_hidden_size * strideTwo(a.num_mel_bins) * strideTwo(chunkFrames(config)) * B;
  const convWorkingSet = 2 * firstConvMap;
  // One transformer layer (the arena reuses the previous layer's buffers): scores and probs over the dense
  // T × T bias, fc1 output and its GELU, hidden-state copies.
  const layerWorkingSet =
    2 * a.encoder_attention_heads * T * T * B + 2 * T * a.encoder_ffn_dim * B + ENCODER_HIDDEN_COPIES * T * a.d_model * B;
  const output = T * a.output_dim * B;
  return inputs + Math.max(convWorkingSet, layerWorkingSet) + output;
}

// ------------------------------------------------------------------------------------------------ decoder

/** One left-padded prefill call over B rows of S tokens; one layer's working set (ORT frees between layers). */
function prefillActivationBytes(config: ModelConfig, rows: number, S: number): number {
  const q = config.qwen3_asr;
  const B = ACTIVATION_BYTES;
  const inputs = rows * S * q.hidden_size * B + rows * S * S * B + rows * S * INDEX_BYTES;
  const attention = 2 * rows * q.num_attention_heads * S * S * B;
  const mlp = 3 * rows * S * q.intermediate_size * B;
  const hidden = rows * S * (PREFILL_HIDDEN_COPIES * q.hidden_size + PREFILL_HEAD_COPIES * q.num_attention_heads * q.head_dim) * B;
  return inputs + attention + mlp + hidden;
}

/** Decode-step inputs at the longest step: embeddings [B,1,H], bias [B,1,1,P+1], positions [B,1]. */
function ioBufferBytes(config: ModelConfig, rows: number, paddedSequence: number): number {
  return rows * (config.qwen3_asr.hidden_size * ACTIVATION_BYTES + paddedSequence * ACTIVATION_BYTES + INDEX_BYTES);
}

/**
 * Graph loop, one layer at the longest step: the prompt and generated caches joined for attention, and keys and
 * values expanded to the query heads (GQA), alive only while that layer runs.
 */
function stepLayerBytes(config: ModelConfig, ioDtype: IoDtype, rows: number, paddedSequence: number): number {
  const q = config.qwen3_asr;
  const joined = (rows * paddedSequence * kvBytesPerToken(config, ioDtype)) / q.num_hidden_layers;
  const expanded = rows * paddedSequence * 2 * q.num_attention_heads * q.head_dim * ioBytes(ioDtype);
  return joined + expanded;
}

// ------------------------------------------------------------------------------------------------- batch

/** Modelled peak device memory of running `items` as one engine batch. */
export function estimateBatchBytes(
  config: ModelConfig,
  dtypes: MemoryDtypes,
  items: readonly ItemShape[],
  options: MemoryModelOptions = {},
): MemoryBreakdown {
  const calibration = options.calibration ?? defaultCalibration;
  const k = calibration.coefficients;
  const slicesPerCall = options.encoderSlicesPerCall ?? DEFAULT_ENCODER_SLICES_PER_CALL;
  const decoding = options.decoding ?? "host";
  const copies = options.kvCopiesAlive ?? (decoding === "graph" ? GENERATED_KV_COPIES : KV_COPIES_ALIVE);

  const prompts = items.map((item) => promptTokens(config, item));
  const maxNew = items.map((item) => itemMaxNewTokens(config, item));
  const S = Math.max(0, ...prompts);
  const rows = items.length;
  // The largest call this worker's fixed packing can make from any clips: `slicesPerCall` full slices.
  const call = largestEncoderCall(
    config,
    Array.from({ length: slicesPerCall }, () => config.n_window_infer),
    slicesPerCall,
  );
  const paddedSequenceTokens = rows === 0 ? 0 : S + Math.max(...maxNew);
  const ceil = (coefficient: number, bytes: number): number => Math.ceil(coefficient * bytes);
  const kvPerToken = kvBytesPerToken(config, dtypes.io);

  const longestNew = Math.max(0, ...maxNew);
  const kvTokens =
    decoding === "graph"
      ? rows * S + copies * rows * longestNew // prompt cache once, generated cache `copies` times; rows stay
      : copies * peakKvRowTokens(S, maxNew);
  const terms = {
    weights: ceil(k.weights, weightBytes(config, dtypes.weights) + graphEmbeddingBytes(config, dtypes.weights, decoding)),
    runtimeReserve: calibration.runtimeReserveBytes,
    kvCache: ceil(k.kvCache, kvPerToken * kvTokens),
    encoderActivations: rows === 0 ? 0 : ceil(k.encoderActivations, encoderActivationBytes(config, call)),
    prefillActivations: ceil(k.prefillActivations, prefillActivationBytes(config, rows, S)),
    // The graph loop keeps the logits and their log-softmax (for the chosen token's log-probability).
    logits: ceil(k.logits, (decoding === "graph" ? 2 : 1) * rows * config.qwen3_asr.vocab_size * ACTIVATION_BYTES),
    ioBuffers: ceil(
      k.ioBuffers,
      ioBufferBytes(config, rows, paddedSequenceTokens) + (decoding === "graph" ? stepLayerBytes(config, dtypes.io, rows, paddedSequenceTokens) : 0),
    ),
  };
  const prefillPhase = terms.prefillActivations + ceil(k.kvCache, kvPerToken * rows * S);
  const decodePhase = terms.kvCache + terms.ioBuffers;
  const peakPhase = prefillPhase > decodePhase ? ("prefill" as const) : ("decode" as const);
  const total = terms.weights + terms.runtimeReserve + terms.encoderActivations + terms.logits + Math.max(prefillPhase, decodePhase);
  return {
    ...terms,
    peakPhase,
    total,
    shape: { batchSize: rows, paddedPromptTokens: S, paddedSequenceTokens, largestEncoderCall: call },
  };
}
