/**
 * Mixed-radix complex FFT for any length whose prime factors are small (400 = 4·4·5·5 for Qwen3-ASR's n_fft).
 * fft.js and most npm FFTs only take powers of two, and a 400-point transform cannot be padded to 512 without
 * changing the spectrum.
 */
export interface ComplexFft {
  readonly size: number;
  /** Transforms (re, im) into (outRe, outIm); inputs are left untouched. */
  transform(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array): void;
}

function factorize(n: number): number[] {
  const factors: number[] = [];
  let rest = n;
  for (const p of [4, 2, 3, 5]) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  for (let p = 7; rest > 1; p += 2) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  return factors;
}

export function createFft(size: number): ComplexFft {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`FFT size must be a positive integer, got ${size}`);
  const factors = factorize(size);
  const cos = new Float64Array(size);
  const sin = new Float64Array(size);
  for (let k = 0; k < size; k++) {
    cos[k] = Math.cos((-2 * Math.PI * k) / size);
    sin[k] = Math.sin((-2 * Math.PI * k) / size);
  }
  const maxRadix = Math.max(1, ...factors);
  const scratchRe = new Float64Array(maxRadix);
  const scratchIm = new Float64Array(maxRadix);
  // Per stage: twiddles W_n^(q k) laid out [k][q], and the radix-p DFT matrix W_p^(q r) laid out [r][q].
  const stages: { twRe: Float64Array; twIm: Float64Array; dftRe: Float64Array; dftIm: Float64Array }[] = [];
  for (let depth = 0, n = size; depth < factors.length; depth++) {
    const p = factors[depth];
    const m = n / p;
    const twRe = new Float64Array(m * p);
    const twIm = new Float64Array(m * p);
    for (let k = 0; k < m; k++) {
      for (let q = 0; q < p; q++) {
        const t = ((q * k * size) / n) % size;
        twRe[k * p + q] = cos[t];
        twIm[k * p + q] = sin[t];
      }
    }
    const dftRe = new Float64Array(p * p);
    const dftIm = new Float64Array(p * p);
    for (let r = 0; r < p; r++) {
      for (let q = 0; q < p; q++) {
        const t = ((q * r) % p) * (size / p);
        dftRe[r * p + q] = cos[t];
        dftIm[r * p + q] = sin[t];
      }
    }
    stages.push({ twRe, twIm, dftRe, dftIm });
    n = m;
  }

  // Decimation in time: out[outOff .. outOff+n) = DFT of in[inOff], in[inOff+stride], ...
  const recurse = (
    re: Float64Array, im: Float64Array, inOff: number, stride: number,
    outRe: Float64Array, outIm: Float64Array, outOff: number, n: number, depth: number,
  ): void => {
    if (n === 1) {
      outRe[outOff] = re[inOff];
      outIm[outOff] = im[inOff];
      return;
    }
    const p = factors[depth];
    const m = n / p;
    for (let q = 0; q < p; q++) {
      recurse(re, im, inOff + q * stride, stride * p, outRe, outIm, outOff + q * m, m, depth + 1);
    }
    const { twRe, twIm, dftRe, dftIm } = stages[depth];
    for (let k = 0; k < m; k++) {
      for (let q = 0; q < p; q++) {
        const idx = outOff + q * m + k;
        const c = twRe[k * p + q];
        const s = twIm[k * p + q];
        scratchRe[q] = outRe[idx] * c - outIm[idx] * s;
        scratchIm[q] = outRe[idx] * s + outIm[idx] * c;
      }
      for (let r = 0; r < p; r++) {
        let accRe = 0;
        let accIm = 0;
        for (let q = 0; q < p; q++) {
          const c = dftRe[r * p + q];
          const s = dftIm[r * p + q];
          accRe += scratchRe[q] * c - scratchIm[q] * s;
          accIm += scratchRe[q] * s + scratchIm[q] * c;
        }
        outRe[outOff + r * m + k] = accRe;
        outIm[outOff + r * m + k] = accIm;
      }
    }
  };

  return {
    size,
    transform(re, im, outRe, outIm) {
      recurse(re, im, 0, 1, outRe, outIm, 0, size, 0);
    },
  };
}
