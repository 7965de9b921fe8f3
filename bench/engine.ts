/**
 * npm run bench:engine [-- MODEL_DIR] [--host] — throughput of the real engine (the tiny model by default), batch 1
 * against larger batches, measured in one run on the same inputs. Prints utterances/s, audio-seconds/s and the
 * ratio best/batch-1. `--host` decodes with decoder.onnx driven from JavaScript instead of generate.onnx.
 */
import { fileURLToPath } from "node:url";
import { Qwen3AsrEngine, type Utterance } from "../gpu-worker/engine/engine.js";
import { readPcm16Wav } from "../test/support/wav.js";

const args = process.argv.slice(2);
const modelDir = args.find((a) => !a.startsWith("--")) ?? fileURLToPath(new URL("../test/fixtures/models/tiny-random", import.meta.url));
const decoding = args.includes("--host") ? "host" : "graph";
const clips = ["speech", "speech-long", "short", "silence", "sine"].map((name) =>
  readPcm16Wav(new URL(`../test/fixtures/audio/${name}.wav`, import.meta.url)),
);
const UTTERANCES = 48;
const MAX_NEW_TOKENS = 24; // the random model never emits EOS: every utterance decodes the same number of steps
const utterances: Utterance[] = Array.from({ length: UTTERANCES }, (_, i) => ({ pcm: clips[i % clips.length], maxNewTokens: MAX_NEW_TOKENS }));
const audioSeconds = utterances.reduce((s, u) => s + u.pcm.length / 16000, 0);

const engine = await Qwen3AsrEngine.load(modelDir, { decoding });
await engine.transcribe(utterances.slice(0, 4)); // warm-up

async function measure(batchSize: number): Promise<{ batchSize: number; seconds: number }> {
  // Length-sorted batches, as the planner forms them.
  const sorted = [...utterances].sort((a, b) => a.pcm.length - b.pcm.length);
  const started = performance.now();
  for (let i = 0; i < sorted.length; i += batchSize) await engine.transcribe(sorted.slice(i, i + batchSize));
  return { batchSize, seconds: (performance.now() - started) / 1000 };
}

const rows = [];
for (const size of [1, 2, 4, 8, 16, 24]) rows.push(await measure(size));
const base = rows[0];
const best = rows.reduce((a, b) => (b.seconds < a.seconds ? b : a));
console.log(`engine benchmark: ${modelDir} (${engine.decoding} decoding loop)`);
console.log(`${UTTERANCES} utterances, ${audioSeconds.toFixed(1)} s of audio, ${MAX_NEW_TOKENS} new tokens each\n`);
console.log("batch  utterances/s  audio-s/s");
for (const r of rows) console.log(`${String(r.batchSize).padStart(5)}  ${(UTTERANCES / r.seconds).toFixed(1).padStart(12)}  ${(audioSeconds / r.seconds).toFixed(1).padStart(9)}`);
console.log(`\nbest batch ${best.batchSize}: ${(base.seconds / best.seconds).toFixed(2)}x the throughput of batch 1`);
await engine.close();
