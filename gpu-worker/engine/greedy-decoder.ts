import * as ort from "onnxruntime-node";
import type { ModelConfig } from "../../shared/model-config.js";
import { BLOCKED } from "./audio-encoder.js";
import type { NoSpeechProbe } from "./confidence.js";
import { lastPositionLogits } from "./logits.js";
import { emptyFloatTensor, floatTensor, graphDtypes } from "./tensor-dtype.js";

/** One sequence to decode: its prompt embeddings (audio already spliced in) and its own limit. */
export interface DecodeRow {
  /** Row-major [promptTokens, hidden]. */
  prompt: Float32Array;
  maxNewTokens: number;
  /** Watches this row's logits for the model's own "no speech" answer (confidence.ts). */
  noSpeech?: NoSpeechProbe;
}

export interface DecodedRow {
  ids: number[];
  /** Log-probability of each chosen id under the model (natural log). */
  tokenLogprobs: number[];
  /** Per step, the log-probabilities of the watched token ids (graph decoding's `watch_token_ids`). */
  watchLogprobs?: number[][];
  stopReason: "eos" | "max_new_tokens";
  /** Wall time from the start of decoding until this row stopped (prefill included). */
  decodeMs: number;
}

export interface DecodeResult {
  rows: DecodedRow[];
  prefillMs: number;
  steps: number;
  /** Padded cache slots vs slots holding real tokens, summed over calls: the padding overhead. */
  paddedSlots: number;
  realSlots: number;
  /** onnxruntime runs of the decoding graph for this batch (prefill included). */
  runs: number;
}

export type EmbedFn = (ids: number[][]) => Promise<Float32Array>;

/** Past keys/values: onnxruntime tensors, so that on a GPU (outputs kept as "gpu-buffer") they never leave it. */
interface KvCache {
  tensors: ort.Tensor[]; // [layer*2 + (0 key | 1 value)], each [B, KV, P, D]
  batch: number;
  length: number; // P
}

/** Argmax of each row and its log-probability (log-softmax of the chosen logit, computed stably). */
function argmaxRows(logits: Float32Array, rows: number, vocab: number): { id: number; logprob: number }[] {
  const out: { id: number; logprob: number }[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = -Infinity;
    const base = r * vocab;
    for (let v = 0; v < vocab; v++) {
      if (logits[base + v] > bestValue) {
        bestValue = logits[base + v];
        best = v;
      }
    }
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(logits[base + v] - bestValue);
    out.push({ id: best, logprob: -Math.log(sum) });
  }
  return out;
}

/**
 * Keeps batch rows `keep` and cache positions [drop, P): finished rows leave, shared left padding goes. Reads the
 * cache back to the host (a copy on GPU); this happens only when a row finishes or padding can be dropped.
 */
async function compact(cache: KvCache, keep: number[], drop: number, heads: number, headDim: number): Promise<KvCache> {
  const length = cache.length - drop;
  const rowIn = heads * cache.length * headDim;
  const rowOut = heads * length * headDim;
  const tensors = await Promise.all(
    cache.tensors.map(async (tensor) => {
      // Float32Array, or the Uint16Array bits of a float16 cache: copied as they are.
      const t = (await tensor.getData()) as Float32Array | Uint16Array;
      const out = t instanceof Uint16Array ? new Uint16Array(keep.length * rowOut) : new Float32Array(keep.length * rowOut);
      keep.forEach((row, i) => {
        for (let h = 0; h < heads; h++) {
          const src = row * rowIn + (h * cache.length + drop) * headDim;
          out.set(t.subarray(src, src + length * headDim), i * rowOut + h * length * headDim);
        }
      });
      tensor.dispose();
      return out instanceof Uint16Array
        ? new ort.Tensor("float16", out, [keep.length, heads, length, headDim])
        : new ort.Tensor("float32", out, [keep.length, heads, length, headDim]);
    }),
  );
  return { tensors, batch: keep.length, length };
}

/**
 * Batched greedy decoding with a KV cache. Prompts are left-padded; padding is masked in the attention bias and
 * skipped by positions (cumsum(mask) − 1), and a padded query row attends only to itself so that no softmax
 * row is empty. Rows stop at an EOS id or their own limit and leave the batch, so a row's tokens never depend
 * on its neighbours.
 */
export async function greedyDecode(
  decoder: ort.InferenceSession,
  embed: EmbedFn,
  config: ModelConfig,
  rows: DecodeRow[],
): Promise<DecodeResult> {
  const q = config.qwen3_asr;
  const hidden = q.hidden_size;
  const heads = q.num_key_value_heads;
  const headDim = q.head_dim;
  const layers = q.num_hidden_layers;
  const eos = new Set(config.eos_token_ids);
  const { io, kv } = graphDtypes(config);
  const started = performance.now();

  const promptLength = rows.map((r) => r.prompt.length / hidden);
  const S = Math.max(...promptLength);
  const results: DecodedRow[] = rows.map(() => ({ ids: [], tokenLogprobs: [], stopReason: "max_new_tokens", decodeMs: 0 }));
  let active = rows.map((_, i) => i);
  let pad = promptLength.map((n) => S - n); // leading pad slots per active row, in cache coordinates
  let realLength = [...promptLength];
  let paddedSlots = 0;
  let realSlots = 0;

  // Prefill.
  const B = rows.length;
  const embeds = new Float32Array(B * S * hidden);
  const bias = new Float32Array(B * S * S).fill(BLOCKED);
  const positions = new BigInt64Array(B * S);
  rows.forEach((row, r) => {
    embeds.set(row.prompt, (r * S + pad[r]) * hidden);
    for (let i = 0; i < S; i++) {
      const base = (r * S + i) * S;
      if (i < pad[r]) {
        bias[base + i] = 0;
      } else {
        bias.fill(0, base + pad[r], base + i + 1);
        positions[r * S + i] = BigInt(i - pad[r]);
      }
    }
  });
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: floatTensor(io, embeds, [B, S, hidden]),
    attn_bias: floatTensor(io, bias, [B, 1, S, S]),
    position_ids: new ort.Tensor("int64", positions, [B, S]),
  };
  for (let i = 0; i < layers; i++) {
    feeds[`past_key_values.${i}.key`] = emptyFloatTensor(kv, [B, heads, 0, headDim]);
    feeds[`past_key_values.${i}.value`] = emptyFloatTensor(kv, [B, heads, 0, headDim]);
  }
  let out = await decoder.run(feeds);
  const prefillMs = performance.now() - started;
  paddedSlots += B * S;
  realSlots += promptLength.reduce((a, b) => a + b, 0);
  let cache: KvCache = { tensors: [], batch: B, length: S };
  let steps = 0;
  let runs = 1;

  for (;;) {
    const logits = lastPositionLogits(out.logits);
    const next = argmaxRows(logits, active.length, q.vocab_size);
    cache = {
      tensors: Array.from({ length: 2 * layers }, (_, j) => out[`present.${j >> 1}.${j & 1 ? "value" : "key"}`]),
      batch: active.length,
      length: cache.length,
    };
    const keep: number[] = [];
    next.forEach(({ id: token, logprob }, i) => {
      const row = active[i];
      const result = results[row];
      rows[row].noSpeech?.observe(logits, i * q.vocab_size, q.vocab_size, result.ids);
      result.ids.push(token);
      result.tokenLogprobs.push(logprob);
      if (eos.has(token)) result.stopReason = "eos";
      if (eos.has(token) || result.ids.length >= rows[row].maxNewTokens) {
        result.decodeMs = performance.now() - started;
      } else {
        keep.push(i);
      }
    });
    if (keep.length === 0) {
      for (const t of cache.tensors) t.dispose();
      break;
    }

    const drop = Math.min(...keep.map((i) => pad[i]));
    if (keep.length < active.length || drop > 0) {
      cache = await compact(cache, keep, drop, heads, headDim);
      active = keep.map((i) => active[i]);
      pad = keep.map((i) => pad[i] - drop);
      realLength = keep.map((i) => realLength[i]);
    }
    const tokens = keep.map((i) => next[i].id);

    // One decode step for the remaining rows.
    const b = active.length;
    const P = cache.length;
    const stepBias = new Float32Array(b * (P + 1));
    const stepPositions = new BigInt64Array(b);
    for (let r = 0; r < b; r++) {
      stepBias.fill(BLOCKED, r * (P + 1), r * (P + 1) + pad[r]);
      stepPositions[r] = BigInt(realLength[r]);
      realLength[r] += 1;
    }
    const stepFeeds: Record<string, ort.Tensor> = {
      inputs_embeds: floatTensor(io, await embed(tokens.map((t) => [t])), [b, 1, hidden]),
      attn_bias: floatTensor(io, stepBias, [b, 1, 1, P + 1]),
      position_ids: new ort.Tensor("int64", stepPositions, [b, 1]),
    };
    for (let j = 0; j < 2 * layers; j++) stepFeeds[`past_key_values.${j >> 1}.${j & 1 ? "value" : "key"}`] = cache.tensors[j];
    out = await decoder.run(stepFeeds);
    runs++;
    for (const t of cache.tensors) t.dispose(); // the past is spent; on a GPU this frees device memory at once
    cache = { ...cache, length: P + 1 };
    paddedSlots += b * (P + 1);
    realSlots += realLength.reduce((a, n) => a + n, 0);
    steps++;
  }
  return { rows: results, prefillMs, steps, paddedSlots, realSlots, runs };
}
