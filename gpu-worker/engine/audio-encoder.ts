import * as ort from "onnxruntime-node";
import { audioTokenCount, chunkFrames, convOutLength, type ModelConfig } from "../../shared/model-config.js";
import type { LogMel } from "../audio/features.js";
import { floatTensor, graphDtypes, readFloat32 } from "./tensor-dtype.js";

export const BLOCKED = -3.4028234663852886e38;

/** A run of ≤ n_window_infer frames of one clip: exactly one attention window of the encoder. */
interface Slice {
  clip: number;
  frameStart: number;
  frames: number;
}

export interface EncodedClip {
  /** Row-major [tokens, hidden]. */
  embeds: Float32Array;
  tokens: number;
  /** This clip's share of encoder wall time, by token count. */
  encoderMs: number;
}

/**
 * Runs encoder.onnx over many clips. Every clip is cut into window-sized slices (800 frames = 104 tokens),
 * which the windowed encoder treats independently, and up to `slicesPerCall` slices of any clips share one
 * call with a block-diagonal attention bias: memory stays linear in audio length and short clips batch.
 */
export async function encodeClips(
  session: ort.InferenceSession,
  config: ModelConfig,
  mels: LogMel[],
  slicesPerCall: number,
): Promise<EncodedClip[]> {
  const sliceFrames = config.n_window_infer;
  const chunk = chunkFrames(config);
  const tokensPerChunk = config.qwen3_asr.tokens_per_chunk;
  const hidden = config.qwen3_asr.hidden_size;
  const nMels = config.features_size;
  const { io } = graphDtypes(config);

  const slices: Slice[] = [];
  mels.forEach((mel, clip) => {
    for (let start = 0; start < mel.frames; start += sliceFrames) {
      slices.push({ clip, frameStart: start, frames: Math.min(sliceFrames, mel.frames - start) });
    }
  });
  const parts: Float32Array[][] = mels.map(() => []);
  const encoderMs = mels.map(() => 0);

  for (let first = 0; first < slices.length; first += slicesPerCall) {
    const group = slices.slice(first, first + slicesPerCall);
    const chunksOf = group.map((s) => Math.ceil(s.frames / chunk));
    const totalFrames = chunksOf.reduce((a, b) => a + b, 0) * chunk;
    const tokensOf = group.map((s) => audioTokenCount(config, s.frames));
    const totalTokens = tokensOf.reduce((a, b) => a + b, 0);

    const features = new Float32Array(nMels * totalFrames); // zero tail padding in log-mel space
    const valid = new BigInt64Array(totalTokens);
    const bias = new Float32Array(totalTokens * totalTokens).fill(BLOCKED);
    let chunkBase = 0;
    let tokenBase = 0;
    group.forEach((slice, g) => {
      const mel = mels[slice.clip];
      for (let m = 0; m < nMels; m++) {
        const src = mel.data.subarray(m * mel.frames + slice.frameStart, m * mel.frames + slice.frameStart + slice.frames);
        features.set(src, m * totalFrames + chunkBase * chunk);
      }
      let t = tokenBase;
      for (let c = 0; c < chunksOf[g]; c++) {
        const framesInChunk = Math.min(chunk, slice.frames - c * chunk);
        const count = convOutLength(framesInChunk);
        for (let k = 0; k < count; k++) valid[t++] = BigInt((chunkBase + c) * tokensPerChunk + k);
      }
      for (let i = tokenBase; i < tokenBase + tokensOf[g]; i++) {
        bias.fill(0, i * totalTokens + tokenBase, i * totalTokens + tokenBase + tokensOf[g]);
      }
      chunkBase += chunksOf[g];
      tokenBase += tokensOf[g];
    });

    const started = performance.now();
    const out = await session.run({
      input_features: floatTensor(io, features, [1, nMels, totalFrames]),
      valid_indices: new ort.Tensor("int64", valid, [totalTokens]),
      attn_bias: floatTensor(io, bias, [1, 1, totalTokens, totalTokens]),
    });
    const elapsed = performance.now() - started;
    const embeds = readFloat32(out.audio_embeds);
    let offset = 0;
    group.forEach((slice, g) => {
      parts[slice.clip].push(embeds.slice(offset * hidden, (offset + tokensOf[g]) * hidden));
      encoderMs[slice.clip] += (elapsed * tokensOf[g]) / totalTokens;
      offset += tokensOf[g];
    });
    out.audio_embeds.dispose();
  }

  return parts.map((list, clip) => {
    const tokens = list.reduce((n, p) => n + p.length / hidden, 0);
    const embeds = new Float32Array(tokens * hidden);
    let at = 0;
    for (const p of list) {
      embeds.set(p, at);
      at += p.length;
    }
    return { embeds, tokens, encoderMs: encoderMs[clip] };
  });
}
