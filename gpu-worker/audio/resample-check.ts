import { LogMelExtractor } from "./features.js";

/**
 * Distance between two 16 kHz signals as the model sees them: Qwen3-ASR log-mel features (128 bins), per bin
 * the mean over frames of |Δ|, in feature units (the extractor's output scale). Used to hold the resampler to a
 * high-quality reference (sox `rate -v`).
 */
export interface MelDistance {
  /** Per bin: mean over frames of (ours − reference), the level bias a resampler's filter leaves. */
  biasPerBin: Float64Array;
  /** The largest |bias| over bins, and where. */
  worstBias: number;
  worstBiasBin: number;
  /** Per bin: mean over frames of |ours − reference| (bias plus frame-by-frame differences). */
  perBin: Float64Array;
  worstBin: number;
  worstBinIndex: number;
  meanOverBins: number;
}

export function melDistanceToReference(ours: Float32Array, reference: Float32Array): MelDistance {
  const extractor = new LogMelExtractor({ sampleRate: 16000, nFft: 400, hopLength: 160, nMels: 128 });
  const n = Math.min(ours.length, reference.length);
  const a = extractor.extract(ours.subarray(0, n));
  const b = extractor.extract(reference.subarray(0, n));
  const perBin = new Float64Array(a.nMels);
  const biasPerBin = new Float64Array(a.nMels);
  for (let m = 0; m < a.nMels; m++) {
    let sum = 0;
    let signed = 0;
    for (let f = 0; f < a.frames; f++) {
      const d = a.data[m * a.frames + f] - b.data[m * b.frames + f];
      sum += Math.abs(d);
      signed += d;
    }
    perBin[m] = sum / a.frames;
    biasPerBin[m] = signed / a.frames;
  }
  let worstBiasBin = 0;
  biasPerBin.forEach((v, i) => {
    if (Math.abs(v) > Math.abs(biasPerBin[worstBiasBin])) worstBiasBin = i;
  });
  let worstBinIndex = 0;
  perBin.forEach((v, i) => {
    if (v > perBin[worstBinIndex]) worstBinIndex = i;
  });
  return { biasPerBin, worstBias: Math.abs(biasPerBin[worstBiasBin]), worstBiasBin, perBin, worstBin: perBin[worstBinIndex], worstBinIndex, meanOverBins: perBin.reduce((s, v) => s + v, 0) / perBin.length };
}
