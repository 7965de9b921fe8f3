/**
 * npm run bench:no-speech — calibrates the no-speech decision on the held-out speech of the eval sets
 * (test/fixtures/eval) and on generated non-speech (noise of several colours and levels, steady and gliding
 * tones, music-like chord sequences, clicks, near-silence), and reports the false-reject rate on speech and the
 * false-accept rate on non-speech at the chosen thresholds.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { Qwen3AsrEngine } from "../gpu-worker/engine/engine.js";
import { nonSpeechClips } from "../gpu-worker/audio/non-speech.js";
import { isNoSpeech, type NoSpeechThresholds } from "../shared/no-speech.js";

interface Manifest {
  sets: Record<string, { file: string; utterances: { start: number; end: number; text: string }[] }>;
}

const root = fileURLToPath(new URL("..", import.meta.url));
const modelDir = process.argv[2] ?? join(root, "models", "qwen3-asr-synth-en");
const manifestPath = join(root, "test", "fixtures", "eval", "manifest.json");
const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
const engine = await Qwen3AsrEngine.load(modelDir);

interface Scored {
  kind: "speech" | "non-speech";
  name: string;
  avgLogprob: number;
  noSpeechProb: number;
  text: string;
}
const scored: Scored[] = [];
const BATCH = 16;
async function score(kind: Scored["kind"], named: { name: string; pcm: Float32Array }[]): Promise<void> {
  for (let i = 0; i < named.length; i += BATCH) {
    const part = named.slice(i, i + BATCH);
    const results = await engine.transcribe(part.map(({ pcm }) => ({ pcm })));
    results.forEach((r, j) => scored.push({ kind, name: part[j].name, avgLogprob: r.avgLogprob, noSpeechProb: r.noSpeechProb, text: r.text }));
  }
}
for (const [name, set] of Object.entries(manifest.sets)) {
  const audio = await decodeAudio(new Uint8Array(readFileSync(join(dirname(manifestPath), set.file))));
  await score("speech", set.utterances.map((u, i) => ({ name: `${name}#${i}`, pcm: audio.pcm.subarray(u.start, u.end) })));
}
await score("non-speech", nonSpeechClips(16000, 10));

const speech = scored.filter((s) => s.kind === "speech");
const noise = scored.filter((s) => s.kind === "non-speech");
const rates = (t: NoSpeechThresholds) => ({
  falseReject: speech.filter((s) => isNoSpeech(s, t)).length / speech.length,
  falseAccept: noise.filter((s) => !isNoSpeech(s, t)).length / noise.length,
});
const quantiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return [0, 0.01, 0.05, 0.5, 0.95, 0.99, 1].map((q) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))].toFixed(3)).join(" ");
};
console.log(`model ${modelDir}: ${speech.length} speech utterances, ${noise.length} non-speech clips`);
console.log(`avg_logprob quantiles (0 1 5 50 95 99 100 %) speech:     ${quantiles(speech.map((s) => s.avgLogprob))}`);
console.log(`avg_logprob quantiles (0 1 5 50 95 99 100 %) non-speech: ${quantiles(noise.map((s) => s.avgLogprob))}`);
console.log(`no_speech_prob quantiles speech:     ${quantiles(speech.map((s) => s.noSpeechProb))}`);
console.log(`no_speech_prob quantiles non-speech: ${quantiles(noise.map((s) => s.noSpeechProb))}`);

// Threshold on avg_logprob: the one that minimises false rejects + false accepts (speech weighed three times: losing
// a real sentence is worse than letting one noise clip through).
let best: { t: NoSpeechThresholds; cost: number } | null = null;
const candidates = [...new Set(scored.map((s) => s.avgLogprob))].sort((a, b) => a - b);
for (const c of candidates) {
  const t: NoSpeechThresholds = { noSpeechProb: 0.6, avgLogprob: c };
  const r = rates(t);
  const cost = 3 * r.falseReject + r.falseAccept;
  if (!best || cost < best.cost) best = { t, cost };
}
const chosen = best?.t ?? { noSpeechProb: 0.6, avgLogprob: -1 };
const r = rates(chosen);
console.log(`\nchosen: no_speech_prob > ${chosen.noSpeechProb} or avg_logprob < ${chosen.avgLogprob.toFixed(4)}`);
console.log(`false-reject rate on speech: ${(100 * r.falseReject).toFixed(1)} % (${Math.round(r.falseReject * speech.length)}/${speech.length})`);
console.log(`false-accept rate on non-speech: ${(100 * r.falseAccept).toFixed(1)} % (${Math.round(r.falseAccept * noise.length)}/${noise.length})`);
for (const s of noise.filter((s) => !isNoSpeech(s, chosen))) console.log(`  accepted non-speech ${s.name}: ${s.avgLogprob.toFixed(3)} "${s.text}"`);
for (const s of speech.filter((s) => isNoSpeech(s, chosen))) console.log(`  rejected speech ${s.name}: ${s.avgLogprob.toFixed(3)} "${s.text}"`);

// Held out: non-speech from another seed, never seen by the threshold search above.
const heldOut: Scored[] = [];
for (const clip of nonSpeechClips(16000, 10, 7)) {
  const [r] = await engine.transcribe([{ pcm: clip.pcm }]);
  heldOut.push({ kind: "non-speech", name: clip.name, avgLogprob: r.avgLogprob, noSpeechProb: r.noSpeechProb, text: r.text });
}
await engine.close();
const configured = engine.config.no_speech;
if (configured) {
  const t = { noSpeechProb: configured.no_speech_prob, avgLogprob: configured.avg_logprob };
  const c = rates(t);
  console.log(`\nthresholds in ${modelDir}/config.json: no_speech_prob > ${t.noSpeechProb} or avg_logprob < ${t.avgLogprob}`);
  console.log(`false-reject rate on speech: ${(100 * c.falseReject).toFixed(1)} %, false-accept rate on non-speech: ${(100 * c.falseAccept).toFixed(1)} %`);
  const accepted = heldOut.filter((x) => !isNoSpeech(x, t)).length;
  console.log(`held-out non-speech (another seed, ${heldOut.length} clips): false-accept rate ${(100 * accepted / heldOut.length).toFixed(1)} %`);
}
