/**
 * How many copies of the KV cache a decoding loop keeps alive, measured on this CPU (`npm run bench:kv-copies`).
 *
 * Each shape runs in a fresh process (dev/measure-batch.ts: peak RSS of one batch). Two output lengths per loop:
 * the difference in peak memory divided by the difference in cache bytes is the number of cache copies alive at
 * the peak — what the memory model's `kvCopies` must say for that loop. Uses a random model whose cache dominates
 * (tools/make_kv_probe_model.py writes it).
 *
 *   /usr/bin/python3 tools/make_kv_probe_model.py /tmp/kv-probe && npm run bench:kv-copies -- /tmp/kv-probe
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const modelDir = process.argv[2] ?? "/tmp/kv-probe";
const config = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8")) as {
  qwen3_asr: { num_hidden_layers: number; num_key_value_heads: number; head_dim: number };
};
const q = config.qwen3_asr;
const kvBytesPerToken = q.num_hidden_layers * 2 * q.num_key_value_heads * q.head_dim * 4;
const ROWS = 8;
const SECONDS = 30;
const measure = fileURLToPath(new URL("../dev/measure-batch.ts", import.meta.url));

interface Measured {
  peakBytes: number;
  baselineBytes: number;
  steps: number;
  decoding: string;
}
function run(decoding: "graph" | "host", maxNewTokens: number): Measured {
  const shape = { seconds: Array(ROWS).fill(SECONDS), maxNewTokens: Array(ROWS).fill(maxNewTokens), encoderSlicesPerCall: 1, decoding };
  const out = execFileSync(process.execPath, ["--import", "tsx", measure, modelDir, JSON.stringify(shape)], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop() as string) as Measured;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
console.log(`KV cache: ${kvBytesPerToken} B/token; batch ${ROWS} × ${SECONDS} s`);
console.log("loop    new tokens  steps  peak−baseline MiB");
const rows: { decoding: string; copies: number }[] = [];
for (const decoding of ["host", "graph"] as const) {
  const short = run(decoding, 16);
  const long = run(decoding, 400);
  for (const [n, m] of [[16, short], [400, long]] as const) {
    console.log(`${decoding.padEnd(6)}  ${String(n).padStart(10)}  ${String(m.steps).padStart(5)}  ${mib(m.peakBytes - m.baselineBytes).padStart(17)}`);
  }
  const extraTokens = ROWS * (long.steps - short.steps);
  const copies = (long.peakBytes - short.peakBytes) / (extraTokens * kvBytesPerToken);
  rows.push({ decoding, copies });
  console.log(`${decoding}: ${copies.toFixed(2)} copies of the cache alive at the peak (Δpeak ${mib(long.peakBytes - short.peakBytes)} MiB / Δcache ${mib(extraTokens * kvBytesPerToken)} MiB)`);
}
console.log(JSON.stringify(rows));
