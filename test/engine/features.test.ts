import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createFft } from "../../gpu-worker/audio/fft.js";
import { LogMelExtractor, normalizePeak } from "../../gpu-worker/audio/features.js";
import { readFloat32File, readPcm16Wav } from "../support/wav.js";

const fixture = (p: string) => new URL(`../fixtures/${p}`, import.meta.url);
const golden = JSON.parse(readFileSync(fixture("golden/features.json"), "utf8")) as Record<string, { file: string; frames: number }>;
const extractor = new LogMelExtractor({ sampleRate: 16000, nFft: 400, hopLength: 160, nMels: 128 });

describe("log-mel features", () => {
  it.each(Object.keys(golden))("match the Python reference within 1e-4 on %s", (name) => {
    const pcm = readPcm16Wav(fixture(`audio/${golden[name].file}`));
    const expected = readFloat32File(fixture(`golden/features/${name}.f32`));
    const mel = extractor.extract(pcm);
    expect(mel.frames).toBe(golden[name].frames);
    expect(mel.data.length).toBe(expected.length);
    let maxError = 0;
    for (let i = 0; i < expected.length; i++) maxError = Math.max(maxError, Math.abs(mel.data[i] - expected[i]));
    expect(maxError).toBeLessThanOrEqual(1e-4);
  });

  it("rejects clips shorter than one frame", () => {
    expect(() => extractor.extract(new Float32Array(200))).toThrow(/at least 201 samples/);
    expect(extractor.extract(new Float32Array(201)).frames).toBe(1);
  });

  it("normalises only when the peak exceeds 1", () => {
    const quiet = Float32Array.from([0.5, -0.25]);
    expect(normalizePeak(quiet)).toBe(quiet);
    expect(Array.from(normalizePeak(Float32Array.from([2, -1])))).toEqual([1, -0.5]);
  });
});

describe("mixed-radix FFT", () => {
  it.each([400, 12, 7, 1])("equals a direct DFT for n = %i", (n) => {
    const re = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) + (i % 3));
    const im = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
    const outRe = new Float64Array(n);
    const outIm = new Float64Array(n);
    createFft(n).transform(re, im, outRe, outIm);
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      for (let t = 0; t < n; t++) {
        const a = (-2 * Math.PI * k * t) / n;
        sr += re[t] * Math.cos(a) - im[t] * Math.sin(a);
        si += re[t] * Math.sin(a) + im[t] * Math.cos(a);
      }
      expect(outRe[k]).toBeCloseTo(sr, 9);
      expect(outIm[k]).toBeCloseTo(si, 9);
    }
  });
});
