/**
 * Child process of `npm run calibrate`: loads the engine, runs ONE batch of the given shape, and prints its peak
 * resident memory (VmHWM), so that every shape is measured in a fresh process with a fresh onnxruntime arena.
 *
 *   tsx dev/measure-batch.ts MODEL_DIR '{"seconds":[30,30],"maxNewTokens":[64,64],"encoderSlicesPerCall":1}'
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Qwen3AsrEngine } from "../gpu-worker/engine/engine.js";
import { readPcm16Wav } from "../test/support/wav.js";

function status(field: "VmHWM" | "VmRSS"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

const [modelDir, shapeJson] = process.argv.slice(2);
const shape = JSON.parse(shapeJson) as { seconds: number[]; maxNewTokens: number[]; encoderSlicesPerCall: number; decoding?: "graph" | "host" };
const speech = readPcm16Wav(fileURLToPath(new URL("../test/fixtures/audio/speech-long.wav", import.meta.url)));
const clip = (seconds: number): Float32Array => {
  const out = new Float32Array(Math.round(seconds * 16000));
  for (let i = 0; i < out.length; i += speech.length) out.set(speech.subarray(0, Math.min(speech.length, out.length - i)), i);
  return out;
};
const engine = await Qwen3AsrEngine.load(modelDir, shape.decoding ? { decoding: shape.decoding } : {});
const utterances = shape.seconds.map((s, i) => ({ pcm: clip(s), maxNewTokens: shape.maxNewTokens[i] }));
global.gc?.();
const baseline = status("VmRSS");
await engine.transcribe(utterances, { encoderSlicesPerCall: shape.encoderSlicesPerCall });
const frames = utterances.map((u) => Math.floor(u.pcm.length / engine.config.hop_length));
process.stdout.write(JSON.stringify({ frames, baselineBytes: baseline, peakBytes: status("VmHWM"), steps: engine.lastBatch.decodeSteps, decoding: engine.decoding }) + "\n");
