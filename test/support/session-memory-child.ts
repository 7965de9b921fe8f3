/**
 * Run in a fresh process: `node --expose-gc --import tsx test/support/session-memory-child.ts MODEL_DIR [WARMUP_DIR]`.
 * Opens the engine's sessions for MODEL_DIR (openModelSessions, the engine's options) and prints, as one JSON
 * line, how much the resident set grew. A first model (WARMUP_DIR) is opened and closed before the baseline so
 * that onnxruntime's one-off costs (thread pools, allocator set-up, kernel registries) are not counted.
 */
import { loadModelDirectory } from "../../gpu-worker/engine/model-dir.js";
import { openModelSessions } from "../../gpu-worker/engine/sessions.js";

const [dir, warmup] = process.argv.slice(2);
const settle = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
};
if (warmup) {
  const s = await openModelSessions(loadModelDirectory(warmup));
  await Promise.all([s.encoder.release(), s.embedTokens.release(), s.decoder.session.release()]);
}
const model = loadModelDirectory(dir);
const before = settle();
const sessions = await openModelSessions(model);
const after = settle();
// The graphs the engine opens: encoder, embed_tokens, and generate.onnx (or decoder.onnx without it).
const { decoder, generate, ...rest } = model.config.qwen3_asr.weight_bytes ?? { encoder: 0, embed_tokens: 0, decoder: 0 };
const loaded = { ...rest, [sessions.decoder.kind === "graph" ? "generate" : "decoder"]: sessions.decoder.kind === "graph" ? generate : decoder };
console.log(JSON.stringify({ rssDeltaBytes: after - before, weightBytes: loaded }));
await Promise.all([sessions.encoder.release(), sessions.embedTokens.release(), sessions.decoder.session.release()]);
