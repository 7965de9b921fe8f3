import type * as ort from "onnxruntime-node";
import { readFloat32 } from "./tensor-dtype.js";

/**
 * Logits of the last position of each row. Our exports compute lm_head on the last position only ([B, 1, V]);
 * the onnx-asr "speech-llm" graphs (OpenVoiceOS) return every position ([B, S, V]) during prefill. Left padding
 * puts every row's last real token at the last position, so the last slice serves both.
 */
export function lastPositionLogits(logits: ort.Tensor): Float32Array {
  const data = readFloat32(logits); // float16 logits come back as float32 values
  const [batch, positions, vocab] = logits.dims.length === 3 ? logits.dims : [logits.dims[0], 1, logits.dims.at(-1) ?? 0];
  if (positions <= 1) return data;
  const out = new Float32Array(batch * vocab);
  for (let r = 0; r < batch; r++) out.set(data.subarray((r * positions + positions - 1) * vocab, (r * positions + positions) * vocab), r * vocab);
  return out;
}
