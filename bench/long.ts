/**
 * npm run bench:long [-- MODEL_DIR]: a 1, 10 and 60 minute job (the 10-minute speech fixture, looped), each on
 * a fresh worker process; prints audio-seconds per second and the worker's peak RSS, and how much of the peak
 * grows with length beyond the decoded PCM itself.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { longRunHarness, loopedWav, type LongRunResult } from "../dev/long-run.js";

const shipped = fileURLToPath(new URL("../models/qwen3-asr-synth-en", import.meta.url));
const modelDir = process.argv[2] ?? (existsSync(shipped) ? shipped : fileURLToPath(new URL("../test/fixtures/models/tiny-random", import.meta.url)));
const MINUTES = [1, 10, 60];

const source = await decodeAudio(new Uint8Array(readFileSync(new URL("../test/fixtures/audio/long-10min.ogg", import.meta.url))));
const harness = await longRunHarness(modelDir);
const results: LongRunResult[] = [];
try {
  for (const minutes of MINUTES) results.push(await harness.run(loopedWav(source.pcm, minutes * 60), minutes * 60));
} finally {
  await harness.close();
}
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
console.log(`long audio on ${modelDir}, one fresh worker process per length\n`);
console.log("audio     chunks  audio-s/s   peak RSS  decoded PCM  peak − PCM");
for (const r of results) {
  console.log(
    `${`${r.seconds / 60} min`.padEnd(9)}${String(r.chunks).padStart(7)}${r.audioSecondsPerSecond.toFixed(1).padStart(11)}${mib(r.peakRssBytes).padStart(11)}${mib(r.pcmBytes).padStart(13)}${mib(r.peakRssBytes - r.pcmBytes).padStart(12)}`,
  );
}
const growth = (a: LongRunResult, b: LongRunResult): string => {
  const beyondPcm = b.peakRssBytes - b.pcmBytes - (a.peakRssBytes - a.pcmBytes);
  return `from ${a.seconds / 60} to ${b.seconds / 60} min the peak grew by ${mib(b.peakRssBytes - a.peakRssBytes)}, of which ${mib(beyondPcm)} beyond the decoded PCM (${mib(b.pcmBytes - a.pcmBytes)})`;
};
console.log(`\n${growth(results[0], results[results.length - 1])}`);
