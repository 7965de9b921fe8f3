/**
 * npm run eval — word error rate of a model on the held-out synthetic sets (test/fixtures/eval, written by
 * tools/train_small_model.py: sentences never used in training, spoken by training voices, by voice variants
 * not used in training, and with an English accent not used in training), through the TypeScript engine,
 * unbatched and in batches of 16. The two must give identical transcripts.
 *
 *   npm run eval [-- MODEL_DIR [MANIFEST]] [-- --precision float32|float16|int8|int4]
 *
 * `--precision P` evaluates the shipped model rewritten in P (models/qwen3-asr-synth-en/precisions/P; float32 is
 * not committed: write it with `tools/convert_qwen3_asr.py --from-onnx models/qwen3-asr-synth-en
 * models/qwen3-asr-synth-en/precisions/float32 --weights float32`).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { Qwen3AsrEngine } from "../gpu-worker/engine/engine.js";
import { addTally, rate, wer, type WerTally } from "../shared/wer.js";

interface Manifest {
  sample_rate: number;
  sets: Record<string, { file: string; utterances: { start: number; end: number; text: string; voice: string }[] }>;
}

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const precisionAt = args.indexOf("--precision");
const precision = precisionAt >= 0 ? args.splice(precisionAt, 2)[1] : undefined;
if (precisionAt >= 0 && !["float32", "float16", "int8", "int4"].includes(precision ?? "")) {
  console.error(`--precision must be float32, float16, int8 or int4 (got ${precision ?? "nothing"})`);
  process.exit(2);
}
const shipped = join(root, "models", "qwen3-asr-synth-en");
const modelDir = args[0] ?? (precision ? join(shipped, "precisions", precision) : shipped);
const manifestPath = args[1] ?? join(root, "test", "fixtures", "eval", "manifest.json");
const BATCH = 16;

const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
const engine = await Qwen3AsrEngine.load(modelDir);
const q = engine.config.qwen3_asr;
console.log(`model ${modelDir} (${q.variant}, weights ${q.weights_dtype}, I/O ${q.io_dtype}), eval set ${manifestPath}\n`);
console.log("set               utterances  words  WER unbatched  WER batched  identical");
let mismatches = 0;
for (const [name, set] of Object.entries(manifest.sets)) {
  const audio = await decodeAudio(new Uint8Array(readFileSync(join(dirname(manifestPath), set.file))));
  const clips = set.utterances.map((u) => audio.pcm.subarray(u.start, u.end));
  const single: string[] = [];
  for (const pcm of clips) single.push((await engine.transcribe([{ pcm }]))[0].text);
  const batched: string[] = [];
  for (let i = 0; i < clips.length; i += BATCH) {
    batched.push(...(await engine.transcribe(clips.slice(i, i + BATCH).map((pcm) => ({ pcm })))).map((r) => r.text));
  }
  let a: WerTally = { edits: 0, words: 0 };
  let b: WerTally = { edits: 0, words: 0 };
  let same = 0;
  set.utterances.forEach((u, i) => {
    a = addTally(a, wer(u.text, single[i]));
    b = addTally(b, wer(u.text, batched[i]));
    if (single[i] === batched[i]) same++;
  });
  mismatches += clips.length - same;
  console.log(
    `${name.padEnd(18)}${String(clips.length).padStart(10)}${String(a.words).padStart(7)}${(rate(a) * 100).toFixed(1).padStart(14)} %${(rate(b) * 100).toFixed(1).padStart(11)} %${`${same}/${clips.length}`.padStart(11)}`,
  );
}
await engine.close();
if (mismatches > 0) {
  console.error(`\n${mismatches} utterances differ between batched and unbatched decoding`);
  process.exit(1);
}
console.log("\nbatched and unbatched transcripts are identical");
