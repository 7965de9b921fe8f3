/**
 * Regenerates test/fixtures/vad-corpus/: a small labelled corpus for measuring speech detection
 * (`npm run bench:vad`). Each file places espeak-ng sentences ("speech islands", silence-trimmed, so their
 * exact sample ranges are the labels) into a background, and labels.json lists the speech intervals.
 * The outputs are committed: tests and the benchmark never run espeak-ng or sox.
 *
 *   npx tsx tools/make_vad_corpus.ts        # needs espeak-ng (1.51) and sox (14.4) on PATH; no network
 *
 * Reproducible: espeak-ng is deterministic, the backgrounds come from a seeded generator, and sox writes
 * 16-bit FLAC without dither (-D), so digital silence stays exactly zero.
 *
 * Layouts (the failures the issue measured, plus what a neural detector is for):
 *   digital-silence-tail       one short sentence (1.7 s), then 60 s of digital silence
 *   digital-silence-head       60 s of digital silence, then speech
 *   digital-silence-gap        speech, 120 s of digital silence, speech
 *   low-noise-islands          three sentences in pink-ish noise at about −60 dBFS, 40 s
 *   tonal-neighbours           sentences next to sustained chords and a beeping tone (music-like, not speech)
 *   quiet-speech               speech at −30 dBFS RMS in digital silence, with 30 s of silence before and after
 *   long-silent-edges          35 s of low noise, a sentence, 35 s of low noise
 *   telephone-8k               band-limited 300–3400 Hz, stored at 8 kHz, in line noise
 *   several-voices             four voices (male, female, two accents) at levels 18 dB apart, in low noise
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../shared/seeded-random.js";

const RATE = 16000;
const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = join(root, "test", "fixtures", "vad-corpus");

/** One espeak-ng sentence at 16 kHz, leading and trailing silence trimmed, peak-normalised to −3 dBFS. */
function speak(text: string, voice: string): Float32Array {
  const wav = execFileSync("espeak-ng", ["-v", voice, "-s", "160", "--stdout", text]);
  const raw = execFileSync(
    "sox",
    ["-D", "-t", "wav", "-", "-t", "f32", "-r", String(RATE), "-c", "1", "-", "silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse"],
    { input: wav, maxBuffer: 64 << 20 },
  );
  const pcm = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  let peak = 0;
  for (const x of pcm) peak = Math.max(peak, Math.abs(x));
  const gain = 0.7 / peak;
  return pcm.map((x) => x * gain);
}


function rms(pcm: Float32Array): number {
  let sum = 0;
  for (const x of pcm) sum += x * x;
  return Math.sqrt(sum / Math.max(1, pcm.length));
}

const dbToGain = (db: number): number => 10 ** (db / 20);

/** Low-passed noise (a one-pole filter on white noise: more like room hum than hiss) at `db` dBFS RMS. */
function noise(seconds: number, db: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  const out = new Float32Array(Math.round(seconds * RATE));
  let y = 0;
  for (let i = 0; i < out.length; i++) {
    y = 0.9 * y + 0.1 * (next() * 2 - 1);
    out[i] = y;
  }
  const gain = dbToGain(db) / rms(out);
  return out.map((x) => x * gain);
}

/** A sustained chord (three partials with harmonics and a slow tremolo) at `db` dBFS RMS. */
function chord(seconds: number, freqs: number[], db: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) {
    const t = i / RATE;
    let v = 0;
    for (const f of freqs) v += Math.sin(2 * Math.PI * f * t) + 0.4 * Math.sin(4 * Math.PI * f * t) + 0.2 * Math.sin(6 * Math.PI * f * t);
    const fade = Math.min(1, t / 0.05, (seconds - t) / 0.05);
    out[i] = v * (0.8 + 0.2 * Math.sin(2 * Math.PI * 5 * t)) * fade;
  }
  const gain = dbToGain(db) / rms(out);
  return out.map((x) => x * gain);
}

/** A 1 kHz beep, 0.25 s on and 0.25 s off, at `db` dBFS RMS while on. */
function beeps(seconds: number, db: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * RATE));
  const amplitude = dbToGain(db) * Math.SQRT2;
  for (let i = 0; i < out.length; i++) {
    const t = i / RATE;
    out[i] = t % 0.5 < 0.25 ? amplitude * Math.sin(2 * Math.PI * 1000 * t) : 0;
  }
  return out;
}

interface Placement {
  at: number;
  pcm: Float32Array;
  /** Speech is labelled; other sounds (tones) are not. */
  speech: boolean;
  /** Gain in dB applied before mixing. */
  gainDb?: number;
}

interface Layout {
  name: string;
  seconds: number;
  background?: Float32Array;
  placements: Placement[];
  /** Stored sample rate; 8000 band-limits to 300–3400 Hz first, like a telephone line. */
  storeRate?: 8000;
  description: string;
}

interface LabelledFile {
  file: string;
  description: string;
  sampleRate: number;
  durationSeconds: number;
  /** Speech intervals in seconds. */
  speech: [number, number][];
}

function render(layout: Layout): { pcm: Float32Array; speech: [number, number][] } {
  const pcm = new Float32Array(Math.round(layout.seconds * RATE));
  if (layout.background) pcm.set(layout.background.subarray(0, pcm.length));
  const speech: [number, number][] = [];
  for (const p of layout.placements) {
    const start = Math.round(p.at * RATE);
    const gain = dbToGain(p.gainDb ?? 0);
    for (let i = 0; i < p.pcm.length && start + i < pcm.length; i++) pcm[start + i] += p.pcm[i] * gain;
    if (p.speech) speech.push([round3(start / RATE), round3((start + p.pcm.length) / RATE)]);
  }
  return { pcm, speech };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function writeFlac(path: string, pcm: Float32Array, storeRate: number): void {
  const effects = storeRate === RATE ? [] : ["sinc", "300-3400", "rate", "-v", String(storeRate)];
  execFileSync(
    "sox",
    ["-D", "-t", "f32", "-r", String(RATE), "-c", "1", "-", "-b", "16", "-r", String(storeRate), "-C", "8", path, ...effects],
    { input: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength) },
  );
}

const s = {
  timer: speak("Set a timer for five minutes.", "en-us"),
  weather: speak("What is the weather like in Paris tomorrow morning?", "en-us"),
  meeting: speak("The meeting moved to Thursday at three o'clock.", "en-gb"),
  invoice: speak("Please send the invoice to the finance team.", "en-us+f3"),
  train: speak("The next train leaves from platform nine.", "en-gb-scotland"),
  coffee: speak("I would like a small coffee with milk.", "en-us+f3"),
  yes: speak("Yes.", "en-us"),
  call: speak("Thank you for calling, how can I help you today?", "en-gb-x-rp+f2"),
  order: speak("I am calling about my order number four two seven.", "en-us+m3"),
};

const lowNoiseDb = -60;
const layouts: Layout[] = [
  {
    name: "digital-silence-tail",
    description: "a short sentence (1.7 s) then 60 s of digital silence",
    seconds: 62,
    placements: [{ at: 0, pcm: s.timer, speech: true }],
  },
  {
    name: "digital-silence-head",
    description: "60 s of digital silence then speech",
    seconds: 64,
    placements: [{ at: 60, pcm: s.weather, speech: true }],
  },
  {
    name: "digital-silence-gap",
    description: "speech, 120 s of digital silence, speech",
    seconds: 128,
    placements: [
      { at: 0.5, pcm: s.meeting, speech: true },
      { at: 124, pcm: s.invoice, speech: true },
    ],
  },
  {
    name: "low-noise-islands",
    description: "three sentences in low noise (−60 dBFS)",
    seconds: 40,
    background: noise(40, lowNoiseDb, 1),
    placements: [
      { at: 3, pcm: s.train, speech: true },
      { at: 17, pcm: s.coffee, speech: true },
      { at: 33, pcm: s.yes, speech: true },
    ],
  },
  {
    name: "tonal-neighbours",
    description: "speech next to chords and beeps (music-like, not speech) at −20 dBFS",
    seconds: 40,
    background: noise(40, lowNoiseDb, 2),
    placements: [
      { at: 1, pcm: chord(6, [261.6, 329.6, 392], -20), speech: false },
      { at: 8, pcm: s.weather, speech: true },
      { at: 13, pcm: chord(8, [220, 277.2, 329.6], -20), speech: false },
      { at: 22, pcm: beeps(5, -20), speech: false },
      { at: 28, pcm: s.invoice, speech: true },
      { at: 32, pcm: chord(6, [196, 246.9, 293.7], -20), speech: false },
    ],
  },
  {
    name: "quiet-speech",
    description: "speech at −30 dBFS RMS in digital silence, 30 s of silence before and after",
    seconds: 68,
    placements: [
      { at: 30, pcm: s.meeting, speech: true, gainDb: -30 - 20 * Math.log10(rms(s.meeting)) },
      { at: 34.5, pcm: s.coffee, speech: true, gainDb: -30 - 20 * Math.log10(rms(s.coffee)) },
    ],
  },
  {
    name: "long-silent-edges",
    description: "35 s of low noise, speech, 35 s of low noise",
    seconds: 73,
    background: noise(73, lowNoiseDb, 3),
    placements: [{ at: 35, pcm: s.train, speech: true }],
  },
  {
    name: "telephone-8k",
    description: "telephone band (300–3400 Hz), 8 kHz, in line noise (−55 dBFS)",
    seconds: 30,
    storeRate: 8000,
    background: noise(30, -55, 4),
    placements: [
      { at: 2, pcm: s.call, speech: true },
      { at: 12, pcm: s.order, speech: true },
      { at: 24, pcm: s.yes, speech: true },
    ],
  },
  {
    name: "several-voices",
    description: "four voices at levels up to 18 dB apart, in low noise",
    seconds: 40,
    background: noise(40, lowNoiseDb, 5),
    placements: [
      { at: 2, pcm: s.order, speech: true },
      { at: 6.5, pcm: s.coffee, speech: true, gainDb: -18 },
      { at: 16, pcm: s.meeting, speech: true, gainDb: -6 },
      { at: 19.5, pcm: s.train, speech: true, gainDb: -12 },
      { at: 30, pcm: s.call, speech: true, gainDb: -18 },
    ],
  },
];

mkdirSync(outDir, { recursive: true });
const labels: LabelledFile[] = [];
for (const layout of layouts) {
  const { pcm, speech } = render(layout);
  const file = `${layout.name}.flac`;
  const storeRate = layout.storeRate ?? RATE;
  writeFlac(join(outDir, file), pcm, storeRate);
  labels.push({ file, description: layout.description, sampleRate: storeRate, durationSeconds: layout.seconds, speech });
}
writeFileSync(join(outDir, "labels.json"), `${JSON.stringify({ files: labels }, null, 2)}\n`);
console.log(`wrote ${labels.length} files and labels.json to ${outDir}`);
