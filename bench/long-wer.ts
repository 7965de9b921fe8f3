/**
 * npm run eval:long [-- MODEL_DIR] — word error rate of the whole worker path (chunking at pauses, batched
 * engine, merge) on the 10-minute multi-sentence fixture (test/fixtures/audio/long-10min), at the model's own
 * `max_segment_seconds` and at other segment lengths for comparison.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { detectSpeechByEnergy, planChunks } from "../gpu-worker/audio/chunk.js";
import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { mergeChunkTranscripts } from "../gpu-worker/audio/merge.js";
import { chunkingForModel } from "../gpu-worker/audio/segment-length.js";
import { Qwen3AsrEngine } from "../gpu-worker/engine/engine.js";
import { rate, wer } from "../shared/wer.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const modelDir = process.argv[2] ?? join(root, "models", "qwen3-asr-synth-en");
const engine = await Qwen3AsrEngine.load(modelDir);
const audio = await decodeAudio(new Uint8Array(readFileSync(join(root, "test/fixtures/audio/long-10min.ogg"))));
const script = JSON.parse(readFileSync(join(root, "test/fixtures/audio/long-10min.json"), "utf8")) as { sentences: { text: string }[] };
const reference = script.sentences.map((s) => s.text).join(" ");
const speech = detectSpeechByEnergy(audio.pcm, 16000);
const own = engine.config.max_segment_seconds;
const lengths = [...new Set([own, 30, 15, 10, 8, 6, 5, 4].filter((x): x is number => x !== undefined))];
console.log(`model ${modelDir} (max_segment_seconds ${own ?? "unset"}), ${audio.durationSeconds.toFixed(0)} s, ${script.sentences.length} sentences`);
for (const seconds of lengths) {
  const chunking = chunkingForModel({ chunkSeconds: 30, overlapSeconds: 1 }, seconds);
  const chunks = planChunks(audio.pcm, 16000, { ...chunking, skipSilenceSeconds: 2, speech });
  const texts: string[] = [];
  for (let i = 0; i < chunks.length; i += 16) {
    const batch = chunks.slice(i, i + 16);
    texts.push(...(await engine.transcribe(batch.map((c) => ({ pcm: audio.pcm.subarray(c.startSample, c.endSample) })))).map((r) => r.text));
  }
  const merged = mergeChunkTranscripts(chunks.map((c, i) => ({ startSeconds: c.startSeconds, endSeconds: c.endSeconds, text: texts[i] })));
  const w = wer(reference, merged.text);
  console.log(`segments up to ${String(seconds).padStart(2)} s: ${String(chunks.length).padStart(4)} chunks, WER ${(100 * rate(w)).toFixed(1)} %${seconds === own ? "  (the model's own)" : ""}`);
}
await engine.close();
