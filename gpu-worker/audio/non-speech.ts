/**
 * Deterministic non-speech audio for calibrating and testing the no-speech decision: noise of several colours
 * and levels, steady and gliding tones, music-like chord sequences, clicks and near-silence. Seeded, so every
 * run (and the committed thresholds) see the same clips.
 */

import { seededRandom } from "../../shared/seeded-random.js";

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function scaleToRms(pcm: Float32Array, dbfs: number): Float32Array {
  let sum = 0;
  for (const x of pcm) sum += x * x;
  const rms = Math.sqrt(sum / Math.max(1, pcm.length));
  const gain = rms > 0 ? 10 ** (dbfs / 20) / rms : 0;
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.max(-1, Math.min(1, pcm[i] * gain));
  return pcm;
}

function whiteNoise(n: number, rand: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => gaussian(rand));
}

/** Pink-ish noise (Paul Kellet's economy filter) and brown noise (integrated white). */
function pinkNoise(n: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  let b0 = 0, b1 = 0, b2 = 0;
  for (let i = 0; i < n; i++) {
    const w = gaussian(rand);
    b0 = 0.99765 * b0 + w * 0.099046;
    b1 = 0.963 * b1 + w * 0.2965164;
    b2 = 0.57 * b2 + w * 1.0526913;
    out[i] = b0 + b1 + b2 + w * 0.1848;
  }
  return out;
}

function brownNoise(n: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  let y = 0;
  for (let i = 0; i < n; i++) {
    y = 0.995 * y + gaussian(rand) * 0.1;
    out[i] = y;
  }
  return out;
}

function tone(n: number, sampleRate: number, hz: (t: number) => number): Float32Array {
  const out = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    phase += (2 * Math.PI * hz(i / sampleRate)) / sampleRate;
    out[i] = Math.sin(phase);
  }
  return out;
}

/** Chords of three harmonics-rich notes, changing every `noteSeconds`, with a decaying envelope: music-like. */
function chords(n: number, sampleRate: number, rand: () => number, noteSeconds: number): Float32Array {
  const out = new Float32Array(n);
  const noteSamples = Math.round(noteSeconds * sampleRate);
  for (let start = 0; start < n; start += noteSamples) {
    const root = 110 * 2 ** (Math.floor(rand() * 24) / 12);
    const notes = [root, root * 2 ** (4 / 12), root * 2 ** (7 / 12)];
    for (let i = start; i < Math.min(n, start + noteSamples); i++) {
      const t = (i - start) / sampleRate;
      const envelope = Math.exp(-3 * t);
      let v = 0;
      for (const f of notes) for (let h = 1; h <= 4; h++) v += Math.sin(2 * Math.PI * f * h * t) / h;
      out[i] = envelope * v;
    }
  }
  return out;
}

function clicks(n: number, sampleRate: number, rand: () => number): Float32Array {
  const out = whiteNoise(n, rand).map((x) => x * 0.01);
  for (let i = 0; i < n; i += Math.round(sampleRate * (0.1 + rand() * 0.4))) {
    for (let k = 0; k < 40 && i + k < n; k++) out[i + k] += (rand() * 2 - 1) * Math.exp(-k / 8);
  }
  return out;
}

export interface NamedClip {
  name: string;
  pcm: Float32Array;
}

/** `count` clips per kind (2–8 s, levels −45 to −15 dBFS), deterministic for a given seed. */
export function nonSpeechClips(sampleRate: number, count = 6, seed = 19): NamedClip[] {
  const rand = seededRandom(seed);
  const clips: NamedClip[] = [];
  for (let k = 0; k < count; k++) {
    const seconds = 2 + rand() * 6;
    const n = Math.round(seconds * sampleRate);
    const level = -45 + rand() * 30;
    const lo = 100 + rand() * 900;
    const kinds: [string, Float32Array][] = [
      ["white-noise", whiteNoise(n, rand)],
      ["pink-noise", pinkNoise(n, rand)],
      ["brown-noise", brownNoise(n, rand)],
      ["tone", tone(n, sampleRate, () => lo)],
      ["glide", tone(n, sampleRate, (t) => lo * 2 ** (t / seconds))],
      ["chords", chords(n, sampleRate, rand, 0.3 + rand() * 0.5)],
      ["clicks", clicks(n, sampleRate, rand)],
    ];
    for (const [kind, pcm] of kinds) clips.push({ name: `${kind}#${k}`, pcm: scaleToRms(pcm, level) });
  }
  return clips;
}
