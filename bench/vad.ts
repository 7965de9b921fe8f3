/**
 * npm run bench:vad — speech detection on the labelled corpus (test/fixtures/vad-corpus): for each layout and
 * each detector, the share of labelled speech that reaches the model (target ≥ 99 % everywhere) and the share
 * of non-speech sent along with it, through the worker's own chunk planning. Then each detector's cost: CPU
 * wall time per minute of audio on the corpus and on the 10-minute speech fixture.
 */
import { readFileSync } from "node:fs";
import { createEnergySpeechDetector, type SpeechDetector } from "../gpu-worker/audio/chunk.js";
import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { SileroSpeechDetector } from "../gpu-worker/audio/silero-vad.js";
import { loadVadCorpus, measureDetector, type DetectorResult } from "./vad-corpus.js";

const corpus = await loadVadCorpus();
const detectors: [string, SpeechDetector][] = [
  ["energy", createEnergySpeechDetector()],
  ["silero", await SileroSpeechDetector.load()],
];

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : "–");
const results = new Map<string, DetectorResult[]>();
for (const [name, detector] of detectors) {
  const rows: DetectorResult[] = [];
  for (const file of corpus) rows.push(await measureDetector(detector, file));
  results.set(name, rows);
}

console.log("speech kept (labelled speech inside a chunk) / non-speech sent (non-speech inside a chunk)\n");
console.log(`${"layout".padEnd(24)}${"seconds".padStart(8)}${"speech".padStart(8)}  ${detectors.map(([n]) => `${`${n} kept`.padStart(13)}${`${n} sent`.padStart(13)}`).join("")}`);
let failures = 0;
corpus.forEach((file, i) => {
  const cells = detectors.map(([name]) => {
    const r = (results.get(name) as DetectorResult[])[i];
    return `${pct(r.keptSpeechSeconds, r.speechSeconds).padStart(13)}${pct(r.sentNonSpeechSeconds, r.nonSpeechSeconds).padStart(13)}`;
  });
  const speechSeconds = (results.get("energy") as DetectorResult[])[i].speechSeconds;
  console.log(`${file.name.padEnd(24)}${file.durationSeconds.toFixed(0).padStart(8)}${speechSeconds.toFixed(1).padStart(8)}  ${cells.join("")}`);
});
const totals = detectors.map(([name]) => {
  const rows = results.get(name) as DetectorResult[];
  const sum = (key: keyof DetectorResult): number => rows.reduce((s, r) => s + (r[key] as number), 0);
  const worst = Math.min(...rows.map((r) => r.keptSpeechSeconds / r.speechSeconds));
  if (worst < 0.99) failures++;
  return { name, kept: pct(sum("keptSpeechSeconds"), sum("speechSeconds")), sent: pct(sum("sentNonSpeechSeconds"), sum("nonSpeechSeconds")), worst, detectMs: sum("detectMs") };
});
const audioMinutes = corpus.reduce((s, f) => s + f.pcm.length / 16000, 0) / 60;
console.log(`${"all".padEnd(24)}${(audioMinutes * 60).toFixed(0).padStart(8)}${"".padStart(8)}  ${totals.map((t) => `${t.kept.padStart(13)}${t.sent.padStart(13)}`).join("")}`);
console.log(`${"worst layout kept".padEnd(40)}  ${totals.map((t) => `${pct(t.worst, 1).padStart(13)}${"".padStart(13)}`).join("")}`);

console.log("\ndetector cost (wall time of detection alone, this machine's CPU)");
const long = (await decodeAudio(new Uint8Array(readFileSync(new URL("../test/fixtures/audio/long-10min.ogg", import.meta.url))))).pcm;
for (const [name, detector] of detectors) {
  const corpusMs = (totals.find((t) => t.name === name) as { detectMs: number }).detectMs;
  const started = performance.now();
  await detector.detect(long, 16000);
  const longMs = performance.now() - started;
  console.log(
    `${name.padEnd(8)} corpus ${(corpusMs / audioMinutes).toFixed(0).padStart(6)} ms per audio minute;  10-minute speech file ${longMs.toFixed(0).padStart(6)} ms (${((longMs / 10) | 0)} ms per audio minute)`,
  );
}
if (failures > 0) console.log(`\n${failures} detector(s) keep less than 99 % of the speech on some layout`);
