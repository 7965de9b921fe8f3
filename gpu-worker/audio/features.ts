import { createFft, type ComplexFft } from "./fft.js";

/**
 * Log-mel features exactly as Qwen3-ASR's processor computes them (transformers' WhisperFeatureExtractor with
 * 128 bins, torch path): periodic Hann window of n_fft, hop 160, centred STFT with reflect padding, power
 * spectrum, last frame dropped, Slaney mel filters over 0–8 kHz, log10 clamped at 1e-10, floored at the
 * clip's max − 8, then (x + 4) / 4. Pure and per clip: batching never changes a clip's features.
 */
export interface FeatureOptions {
  sampleRate: number;
  nFft: number;
  hopLength: number;
  nMels: number;
}

export interface LogMel {
  /** Row-major [nMels, frames]. */
  data: Float32Array;
  nMels: number;
  frames: number;
}

const hzToMelSlaney = (hz: number): number => {
  const minLogHz = 1000;
  const minLogMel = 15;
  const logstep = 27 / Math.log(6.4);
  return hz >= minLogHz ? minLogMel + Math.log(hz / minLogHz) * logstep : (3 * hz) / 200;
};

const melToHzSlaney = (mel: number): number => {
  const minLogHz = 1000;
  const minLogMel = 15;
  const logstep = Math.log(6.4) / 27;
  return mel >= minLogMel ? minLogHz * Math.exp(logstep * (mel - minLogMel)) : (200 * mel) / 3;
};

/** A triangle of the filter bank: weights for fft bins [firstBin, firstBin + weights.length). */
interface MelFilter {
  firstBin: number;
  weights: Float64Array;
}

/** transformers.audio_utils.mel_filter_bank(norm="slaney", mel_scale="slaney"), stored sparsely. */
export function melFilterBank(numBins: number, numMels: number, sampleRate: number, fMin = 0, fMax = 8000): MelFilter[] {
  const melMin = hzToMelSlaney(fMin);
  const melMax = hzToMelSlaney(fMax);
  const filterHz = Array.from({ length: numMels + 2 }, (_, i) => melToHzSlaney(melMin + ((melMax - melMin) * i) / (numMels + 1)));
  const fftHz = Array.from({ length: numBins }, (_, i) => (Math.floor(sampleRate / 2) * i) / (numBins - 1));
  const filters: MelFilter[] = [];
  for (let m = 0; m < numMels; m++) {
    const enorm = 2 / (filterHz[m + 2] - filterHz[m]);
    const row: number[] = [];
    let first = -1;
    for (let b = 0; b < numBins; b++) {
      const down = (fftHz[b] - filterHz[m]) / (filterHz[m + 1] - filterHz[m]);
      const up = (filterHz[m + 2] - fftHz[b]) / (filterHz[m + 2] - filterHz[m + 1]);
      // torch casts the float64 bank to float32 before the matmul.
      const w = Math.fround(Math.max(0, Math.min(down, up)) * enorm);
      if (w > 0) {
        if (first < 0) first = b;
        while (first + row.length < b) row.push(0);
        row.push(w);
      }
    }
    filters.push({ firstBin: Math.max(first, 0), weights: Float64Array.from(row) });
  }
  return filters;
}

export class LogMelExtractor {
  private readonly fft: ComplexFft;
  private readonly window: Float64Array;
  private readonly filters: MelFilter[];
  private readonly frameRe: Float64Array;
  private readonly frameIm: Float64Array;
  private readonly specRe: Float64Array;
  private readonly specIm: Float64Array;
  private readonly power: Float64Array;
  private readonly powerB: Float64Array;

  constructor(readonly options: FeatureOptions) {
    const { nFft, nMels, sampleRate } = options;
    this.fft = createFft(nFft);
    this.window = Float64Array.from({ length: nFft }, (_, n) => Math.fround(0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft)));
    this.filters = melFilterBank(1 + Math.floor(nFft / 2), nMels, sampleRate);
    this.frameRe = new Float64Array(nFft);
    this.frameIm = new Float64Array(nFft);
    this.specRe = new Float64Array(nFft);
    this.specIm = new Float64Array(nFft);
    this.power = new Float64Array(1 + Math.floor(nFft / 2));
    this.powerB = new Float64Array(1 + Math.floor(nFft / 2));
  }

  /** Reflect-padded, windowed frame starting at sample `start` (which may be negative). */
  private windowFrame(pcm: Float32Array, start: number, out: Float64Array): void {
    const n = pcm.length;
    for (let i = 0; i < out.length; i++) {
      let j = start + i;
      if (j < 0) j = -j;
      else if (j >= n) j = 2 * (n - 1) - j;
      out[i] = pcm[j] * this.window[i];
    }
  }

  /** Writes log10 mel energies of one frame into column t; returns the column's max. */
  private melColumn(power: Float64Array, data: Float32Array, frames: number, t: number): number {
    let max = -Infinity;
    for (let m = 0; m < this.filters.length; m++) {
      const { firstBin, weights } = this.filters[m];
      let acc = 0;
      for (let w = 0; w < weights.length; w++) acc += weights[w] * power[firstBin + w];
      const value = Math.log10(Math.max(acc, 1e-10));
      data[m * frames + t] = value;
      if (value > max) max = value;
    }
    return max;
  }

  /** Fewest samples that give one frame: the reflect padding needs more than n_fft / 2. */
  get minSamples(): number {
    return Math.max(Math.floor(this.options.nFft / 2) + 1, this.options.hopLength);
  }

  frameCount(samples: number): number {
    return Math.floor(samples / this.options.hopLength);
  }

  extract(pcm: Float32Array): LogMel {
    const { nFft, hopLength, nMels } = this.options;
    const n = pcm.length;
    if (n < this.minSamples) throw new RangeError(`need at least ${this.minSamples} samples, got ${n}`);
    const frames = this.frameCount(n);
    const half = Math.floor(nFft / 2);
    const data = new Float32Array(nMels * frames);
    let maxLog = -Infinity;
    const bins = this.power.length;
    // Two real frames per complex FFT: frame t in the real part, frame t+1 in the imaginary part.
    for (let t = 0; t < frames; t += 2) {
      const pair = t + 1 < frames;
      this.windowFrame(pcm, t * hopLength - half, this.frameRe);
      if (pair) this.windowFrame(pcm, (t + 1) * hopLength - half, this.frameIm);
      else this.frameIm.fill(0);
      this.fft.transform(this.frameRe, this.frameIm, this.specRe, this.specIm);
      for (let k = 0; k < bins; k++) {
        const j = k === 0 ? 0 : nFft - k;
        const xr = this.specRe[k];
        const xi = this.specIm[k];
        const yr = this.specRe[j];
        const yi = this.specIm[j];
        // A = (X_k + conj X_{N-k}) / 2, B = (X_k - conj X_{N-k}) / 2i
        const ar = (xr + yr) / 2;
        const ai = (xi - yi) / 2;
        const br = (xi + yi) / 2;
        const bi = (yr - xr) / 2;
        this.power[k] = ar * ar + ai * ai;
        this.powerB[k] = br * br + bi * bi;
      }
      maxLog = Math.max(maxLog, this.melColumn(this.power, data, frames, t));
      if (pair) maxLog = Math.max(maxLog, this.melColumn(this.powerB, data, frames, t + 1));
    }
    const floor = maxLog - 8;
    for (let i = 0; i < data.length; i++) data[i] = (Math.max(data[i], floor) + 4) / 4;
    return { data, nMels, frames };
  }
}

/** qwen-asr's float_range_normalize: divide by the peak only when it exceeds 1, then clip to [-1, 1]. */
export function normalizePeak(pcm: Float32Array): Float32Array {
  let peak = 0;
  for (let i = 0; i < pcm.length; i++) {
    const a = Math.abs(pcm[i]);
    if (a > peak) peak = a;
  }
  if (peak <= 1) return pcm;
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = Math.max(-1, Math.min(1, pcm[i] / peak));
  return out;
}
