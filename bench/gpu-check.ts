/**
 * GPU check (`npm run gpu:check -- MODEL_DIR`): for a machine with an NVIDIA GPU and the CUDA build of
 * onnxruntime-node (the worker's Docker image). Not run in CI: no machine here has a GPU.
 *
 * Loads a converted model with the CUDA execution provider (tools/make_wide_model.py writes a random model with
 * the 1.7B widths in a few minutes), asks the planner for the batch that fits 5 GiB, then runs 30 s clips at
 * batch 1, 3, 7, 13 and the planner's batch and prints, per batch: measured peak device memory of this process
 * (nvidia-smi) against the memory model, time per decode step, and the bytes that cross between host and device
 * per step (graph decoding: the run's inputs and outputs once per batch; host decoding: the KV cache both ways
 * every step, which is what generate.onnx removes).
 */
import { fileURLToPath } from "node:url";
import { Qwen3AsrEngine } from "../gpu-worker/engine/engine.js";
import { nvidiaSmiProbe } from "../gpu-worker/device-memory.js";
import { estimateBatchBytes, kvBytesPerToken, maxNewTokensFor } from "../gpu-worker/scheduler/memory-model.js";
import { planNextBatch, plannerConfig, type WorkItem } from "../gpu-worker/scheduler/planner.js";
import { readPcm16Wav } from "../test/support/wav.js";

const modelDir = process.argv[2];
if (!modelDir) {
  console.error("usage: npm run gpu:check -- MODEL_DIR [--host]");
  process.exit(2);
}
const decoding = process.argv.includes("--host") ? "host" : "graph";
const MiB = 2 ** 20;
const BUDGET = 5 * 2 ** 30;
const engine = await Qwen3AsrEngine.load(modelDir, { executionProvider: "cuda", decoding });
const config = engine.config;
const probe = nvidiaSmiProbe(0);
const speech = readPcm16Wav(fileURLToPath(new URL("../test/fixtures/audio/speech-long.wav", import.meta.url)));
const clip = (seconds: number): Float32Array => {
  const out = new Float32Array(seconds * 16000);
  for (let i = 0; i < out.length; i += speech.length) out.set(speech.subarray(0, Math.min(speech.length, out.length - i)), i);
  return out;
};
const frames = (30 * 16000) / config.hop_length;
const planner = plannerConfig(config, { budgetBytes: BUDGET, decoding });
const queue: WorkItem[] = Array.from({ length: 64 }, (_, i) => ({ id: `c${i}`, jobId: "j", arrivalMs: 0, frames }));
const planned = planNextBatch(config, queue, 0, planner).batch.length;
const maxNew = maxNewTokensFor(30, "English");
const dtypes = { weights: config.qwen3_asr.weights_dtype, io: config.qwen3_asr.io_dtype };
console.log(`${modelDir}: ${decoding} decoding, planner's batch under 5 GiB: ${planned} chunks of 30 s`);
console.log("batch  peak MiB (measured)  model MiB  ms/step  host↔device bytes/step");
for (const size of [...new Set([1, 3, 7, 13, planned])].sort((a, b) => a - b)) {
  let peak = 0;
  const timer = setInterval(() => void probe().then((m) => (peak = Math.max(peak, m?.bytes ?? 0))), 50);
  const results = await engine.transcribe(Array.from({ length: size }, () => ({ pcm: clip(30), maxNewTokens: maxNew })));
  clearInterval(timer);
  const steps = Math.max(1, engine.lastBatch.decodeSteps);
  const ms = results[0].timings.decodeMs / steps;
  const model = estimateBatchBytes(config, dtypes, Array.from({ length: size }, () => ({ frames, maxNewTokens: maxNew })), { decoding }).total;
  const prompt = results[0].tokens.prompt;
  const io = decoding === "graph"
    ? (size * prompt * (config.qwen3_asr.hidden_size * 4 + prompt * 4 + 8) + size * (steps + 1) * 12) / steps
    : 2 * size * (prompt + steps / 2) * kvBytesPerToken(config, dtypes.io) + size * config.qwen3_asr.vocab_size * 4;
  console.log(`${String(size).padStart(5)}  ${(peak / MiB).toFixed(0).padStart(19)}  ${(model / MiB).toFixed(0).padStart(9)}  ${ms.toFixed(2).padStart(7)}  ${io.toExponential(2).padStart(22)}`);
}
await engine.close();
