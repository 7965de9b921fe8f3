import * as ort from "onnxruntime-node";
import type { ModelConfig, TensorDtype } from "../../shared/model-config.js";

/**
 * Float tensors in the graphs' I/O dtype. The host computes in float32 (features, prompt assembly, argmax); a
 * float16 model (config.json `io_dtype`/`kv_dtype`) takes and returns half tensors, which onnxruntime-node holds
 * as Uint16Array bit patterns (Node 20 has no Float16Array).
 */

export interface GraphDtypes {
  io: TensorDtype;
  kv: TensorDtype;
}

export const graphDtypes = (config: ModelConfig): GraphDtypes => ({
  io: config.qwen3_asr.io_dtype,
  kv: config.qwen3_asr.kv_dtype ?? config.qwen3_asr.io_dtype,
});

const HALF_MAX = 65504;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → float16 bits, round to nearest even. Finite values beyond half's range saturate to ±65504 (an
 *  additive mask of −3.4e38 stays a large finite negative), NaN stays NaN, ±Infinity stays infinite. */
export function toHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  if (value > HALF_MAX && value !== Infinity) value = HALF_MAX;
  else if (value < -HALF_MAX && value !== -Infinity) value = -HALF_MAX;
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00; // infinity (NaN handled above)
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const m = mant | 0x800000; // implicit leading 1
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // may carry into the exponent: correct
  return sign | half;
}

let halfTable: Float32Array | undefined;

/** All 65,536 half values as float32 (256 KiB, built once): decoding is one lookup per element. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  halfTable = table;
  return table;
}

export function float32ToFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = toHalfBits(src[i]);
  return out;
}

export function float16ToFloat32(src: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

/** A float tensor in `dtype` from host float32 values. */
export function floatTensor(dtype: TensorDtype, data: Float32Array, dims: readonly number[]): ort.Tensor {
  return dtype === "float16" ? new ort.Tensor("float16", float32ToFloat16(data), dims) : new ort.Tensor("float32", data, dims);
}

/** An empty [.., 0, ..] tensor (the first call's past_key_values). */
export function emptyFloatTensor(dtype: TensorDtype, dims: readonly number[]): ort.Tensor {
  return dtype === "float16" ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims);
}

/** A float tensor's values as float32, whichever float dtype it holds (host-side tensors only). */
export function readFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === "float32") return tensor.data as Float32Array;
  if (tensor.type === "float16") return float16ToFloat32(tensor.data as Uint16Array);
  throw new TypeError(`expected a float tensor, got ${tensor.type}`);
}
