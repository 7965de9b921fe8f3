/**
 * `npm run bench:pool`: onnxruntime's memory-pool alternatives (memory.pool) measured on this machine. Each
 * alternative runs in a fresh process (an arena never gives memory back, so sharing a process would mix them):
 * the default model loads with the setting, runs the same batches of speech (mixed lengths, so memory patterns
 * see several shapes), and reports its peak RSS (getrusage) and the batch latency. Prints a table, then one JSON
 * line. Options: --model DIR, --rounds N, --json (the JSON line only).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Qwen3AsrEngine } from "../gpu-worker/engine/engine.js";
import type { MemoryPoolOptions } from "../gpu-worker/engine/memory-pool.js";
import { readPcm16Wav } from "../test/support/wav.js";

interface Alternative {
  name: string;
  pool: MemoryPoolOptions;
}

const ALTERNATIVES: Alternative[] = [
  { name: "onnxruntime defaults (arena on, patterns on)", pool: {} },
  { name: "arena on, patterns off", pool: { cpuArena: true, memoryPattern: false } },
  { name: "arena off, patterns on", pool: { cpuArena: false, memoryPattern: true } },
  { name: "arena off, patterns off", pool: { cpuArena: false, memoryPattern: false } },
  { name: "arena on, patterns on, weights outside the arena", pool: { initializersOutsideArena: true } },
  { name: "arena off, patterns off, weights outside the arena", pool: { cpuArena: false, memoryPattern: false, initializersOutsideArena: true } },
];

/** Batch sizes and clip lengths (seconds) of one round: short clips in large batches, 30 s chunks in small ones. */
const ROUND: { size: number; seconds: number }[] = [
  { size: 8, seconds: 4 },
  { size: 4, seconds: 30 },
  { size: 6, seconds: 12 },
  { size: 2, seconds: 30 },
  { size: 8, seconds: 8 },
];

interface ChildResult {
  peakRssBytes: number;
  rssAfterLoadBytes: number;
  rssEndBytes: number;
  batchMsMean: number;
  batchMsP95: number;
  audioSeconds: number;
  engineSeconds: number;
}

async function child(modelDir: string, pool: MemoryPoolOptions, rounds: number): Promise<ChildResult> {
  const engine = await Qwen3AsrEngine.load(modelDir, { pool, intraOpThreads: 1 });
  const rssAfterLoadBytes = process.memoryUsage.rss();
  const speech = readPcm16Wav(fileURLToPath(new URL("../test/fixtures/audio/speech-long.wav", import.meta.url)));
  const clip = (seconds: number, offset: number): Float32Array => {
    const pcm = new Float32Array(Math.round(seconds * 16000));
    for (let j = 0; j < pcm.length; j++) pcm[j] = speech[(offset + j) % speech.length];
    return pcm;
  };
  const times: number[] = [];
  let audioSeconds = 0;
  for (let r = 0; r < rounds; r++) {
    for (const [b, { size, seconds }] of ROUND.entries()) {
      const batch = Array.from({ length: size }, (_, i) => ({ pcm: clip(seconds, (r * 7919 + b * 104729 + i * 16001) % speech.length), maxNewTokens: Math.ceil(6 * seconds) + 16 }));
      const started = performance.now();
      await engine.transcribe(batch);
      times.push(performance.now() - started);
      audioSeconds += size * seconds;
    }
  }
  await engine.close();
  const sorted = [...times].sort((a, b) => a - b);
  return {
    // ru_maxrss is in kibibytes on Linux.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    rssAfterLoadBytes,
    rssEndBytes: process.memoryUsage.rss(),
    batchMsMean: times.reduce((s, t) => s + t, 0) / times.length,
    batchMsP95: sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))],
    audioSeconds,
    engineSeconds: times.reduce((s, t) => s + t, 0) / 1000,
  };
}

export interface PoolMeasurement extends ChildResult {
  name: string;
  pool: MemoryPoolOptions;
}

export function measurePools(modelDir: string, rounds: number): PoolMeasurement[] {
  const script = fileURLToPath(import.meta.url);
  return ALTERNATIVES.map(({ name, pool }) => {
    const out = execFileSync(process.execPath, ["--import", "tsx", script, "--child", JSON.stringify({ modelDir, pool, rounds })], { encoding: "utf8", maxBuffer: 1 << 20 });
    const line = out.trim().split("\n").at(-1) ?? "";
    return { name, pool, ...(JSON.parse(line) as ChildResult) };
  });
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const childSpec = arg("--child");
  if (childSpec) {
    const { modelDir, pool, rounds } = JSON.parse(childSpec) as { modelDir: string; pool: MemoryPoolOptions; rounds: number };
    console.log(JSON.stringify(await child(modelDir, pool, rounds)));
  } else {
    const modelDir = arg("--model") ?? "models/qwen3-asr-synth-en";
    const rounds = Number(arg("--rounds") ?? 4);
    const results = measurePools(modelDir, rounds);
    if (!process.argv.includes("--json")) {
      const mib = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8);
      console.log(`model ${modelDir}, ${rounds} rounds of ${ROUND.length} batches, one intra-op thread, one process per alternative`);
      console.log(`${"alternative".padEnd(52)} peak RSS  RSS loaded  RSS end   batch ms (mean / p95)  × realtime`);
      for (const r of results) {
        console.log(
          `${r.name.padEnd(52)} ${mib(r.peakRssBytes)}  ${mib(r.rssAfterLoadBytes)}  ${mib(r.rssEndBytes)}   ${r.batchMsMean.toFixed(0).padStart(6)} / ${r.batchMsP95.toFixed(0).padStart(6)}      ${(r.audioSeconds / r.engineSeconds).toFixed(1)}`,
        );
      }
    }
    console.log(JSON.stringify({ bench: "pool", modelDir, rounds, results }));
  }
}
