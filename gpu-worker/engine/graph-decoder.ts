import * as ort from "onnxruntime-node";
import type { ModelConfig } from "../../shared/model-config.js";
import { BLOCKED } from "./audio-encoder.js";
import type { DecodeResult, DecodeRow, DecodedRow } from "./greedy-decoder.js";
import { floatTensor, graphDtypes } from "./tensor-dtype.js";

/**
 * Batched greedy decoding in ONE onnxruntime run of generate.onnx (tools/qwen3_asr/generate_graph.py): the
 * prefill, every decode step, the argmax and the stop test run inside the graph (an ONNX Loop), so the KV cache
 * never crosses to the host and JavaScript never touches the logits. Prompts are left-padded exactly as in
 * `greedyDecode` (same attention bias, same positions), so the tokens are the same.
 *
 * Rows that have ended keep being computed until every row has ended (their later tokens are ignored here):
 * a row never attends to another, so its neighbours' tokens do not change; the planner keeps batches of similar
 * length, which keeps that waste small.
 */
export async function graphDecode(
  generate: ort.InferenceSession,
  config: ModelConfig,
  rows: DecodeRow[],
  watchTokenIds: readonly number[] = config.eos_token_ids,
): Promise<DecodeResult> {
  const hidden = config.qwen3_asr.hidden_size;
  const eos = new Set(config.eos_token_ids);
  const started = performance.now();
  const promptLength = rows.map((r) => r.prompt.length / hidden);
  const S = Math.max(...promptLength);
  const B = rows.length;
  const embeds = new Float32Array(B * S * hidden);
  const bias = new Float32Array(B * S * S).fill(BLOCKED);
  const positions = new BigInt64Array(B * S);
  rows.forEach((row, r) => {
    const pad = S - promptLength[r];
    embeds.set(row.prompt, (r * S + pad) * hidden);
    for (let i = 0; i < S; i++) {
      const base = (r * S + i) * S;
      if (i < pad) {
        bias[base + i] = 0; // a padded query row attends only to itself: no empty softmax row
      } else {
        bias.fill(0, base + pad, base + i + 1);
        positions[r * S + i] = BigInt(i - pad);
      }
    }
  });
  const out = await generate.run({
    inputs_embeds: floatTensor(graphDtypes(config).io, embeds, [B, S, hidden]),
    attn_bias: floatTensor(graphDtypes(config).io, bias, [B, 1, S, S]),
    position_ids: new ort.Tensor("int64", positions, [B, S]),
    max_new_tokens: new ort.Tensor("int64", BigInt64Array.from(rows, (r) => BigInt(r.maxNewTokens)), [B]),
    eos_token_ids: new ort.Tensor("int64", BigInt64Array.from(config.eos_token_ids, BigInt), [config.eos_token_ids.length]),
    watch_token_ids: new ort.Tensor("int64", BigInt64Array.from(watchTokenIds, BigInt), [watchTokenIds.length]),
  });
  const elapsed = performance.now() - started;
  const steps = out.tokens.dims[0];
  const tokens = out.tokens.data as BigInt64Array;
  const logprobs = out.token_logprobs.data as Float32Array;
  const watch = out.watch_logprobs.data as Float32Array;
  const W = watchTokenIds.length;
  for (const name of ["tokens", "token_logprobs", "watch_logprobs"]) out[name].dispose();

  const results: DecodedRow[] = rows.map((row, r) => {
    const ids: number[] = [];
    const tokenLogprobs: number[] = [];
    const watchLogprobs: number[][] = [];
    let stopReason: DecodedRow["stopReason"] = "max_new_tokens";
    for (let t = 0; t < steps && ids.length < row.maxNewTokens; t++) {
      const id = Number(tokens[t * B + r]);
      ids.push(id);
      tokenLogprobs.push(logprobs[t * B + r]);
      watchLogprobs.push(Array.from(watch.subarray((t * B + r) * W, (t * B + r + 1) * W)));
      if (eos.has(id)) {
        stopReason = "eos";
        break;
      }
    }
    return { ids, tokenLogprobs, watchLogprobs, stopReason, decodeMs: elapsed };
  });

  // Slots the attention read (every row, every step) against those holding a row's real tokens while it ran.
  let paddedSlots = 0;
  let realSlots = 0;
  for (let t = 0; t < steps; t++) {
    paddedSlots += B * (S + t);
    results.forEach((row, r) => {
      if (t < row.ids.length) realSlots += promptLength[r] + t;
    });
  }
  return { rows: results, prefillMs: elapsed, steps: steps - 1, paddedSlots, realSlots, runs: 1 };
}
