import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { serve, type ServerType } from "@hono/node-server";
import { createDatabase } from "../db/client.js";
import { createApp } from "../edge/app.js";
import { DecodePool } from "../edge/decode-pool.js";
import type { AudioProbe } from "../edge/deps.js";
import { streamingFormData } from "../edge/multipart-stream.js";
import { nodeAudioProbe } from "../edge/node-probe.js";
import { createApiKey } from "../edge/store/api-keys.js";
import { relayDirectUploads } from "../edge/upload/direct-uploads.js";
import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { FsBlobStore } from "../shared/adapters/fs-blob-store.js";
import { AUDIO_CONTENT_TYPES } from "../shared/audio-sniff.js";
import { parseServiceConfig } from "../shared/config.js";
import { silentLogger } from "../shared/logger.js";
import type { JobQueue } from "../shared/queue.js";
import { wavRefusedAtLastSample } from "../test/security/bad-wav.js";

/**
 * Abuse benchmark of the Node edge (real HTTP server, PGlite, filesystem store):
 *
 *   npm run bench:abuse [-- --seconds 20 --clients 4 --megabytes 38 --puts 8 --put-megabytes 100]
 *
 * 1. /healthz latency (p50/p99/max) while `clients` callers upload, back to back, WAVs of `megabytes` that are
 *    refused only at their last sample, through upload URLs and as multipart; each with decoding in the
 *    worker-thread pool (what ships) and on the event loop (what shipped before). Target: p99 < 100 ms.
 * 2. Edge RSS growth while `puts` upload-URL PUTs of `put-megabytes` each stream in at once. Target: < 50 MiB.
 */
const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    clients: { type: "string", default: "4" },
    megabytes: { type: "string", default: "38" },
    puts: { type: "string", default: "8" },
    "put-megabytes": { type: "string", default: "100" },
    /** Skip the runs with the old on-event-loop decode. */
    "skip-old": { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const megabytes = Number(values.megabytes);
const puts = Number(values.puts);
const putMegabytes = Number(values["put-megabytes"]);

const noQueue: JobQueue = { send: async () => undefined };
const config = parseServiceConfig({ limits: { maxUploadBytes: 200 * 1024 * 1024 }, rateLimits: { requestsPerMinute: 1_000_000 } });

/** The edge's probe before this change: the full decode on the event loop. */
const inlineProbe: AudioProbe = async (bytes) => {
  const decoded = await decodeAudio(bytes, { maxDurationSeconds: config.limits.maxDurationSeconds, minDurationSeconds: config.limits.minDurationSeconds });
  return { format: decoded.sourceFormat, contentType: AUDIO_CONTENT_TYPES[decoded.sourceFormat], durationSeconds: decoded.durationSeconds };
};

async function startEdge(probe: AudioProbe) {
  const dir = await mkdtemp(join(tmpdir(), "bench-abuse-"));
  const database = await createDatabase({ dataDir: join(dir, "db") });
  const blobs = new FsBlobStore(join(dir, "blobs"));
  const app = createApp({
    db: database.db,
    blobs,
    queue: noQueue,
    config,
    probeAudio: probe,
    parseMultipart: streamingFormData,
    logger: silentLogger,
    uploads: relayDirectUploads({ blobs, probe, secret: "bench-abuse-signing-secret", maxBytes: 2 * 1024 ** 3 }),
  });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { key } = await createApiKey(database.db, { name: "bench" });
  return {
    origin,
    auth: { Authorization: `Bearer ${key}` },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

// The callers and the /healthz prober run in a thread of their own, so their work (building 38 MB bodies) is
// not counted against the edge's event loop, which the main thread is.
const CLIENT_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { origin, auth, bad, clients, seconds, mode } = workerData;
const until = Date.now() + seconds * 1000;
const statuses = {};
let uploads = 0;
async function uploadOnce() {
  if (mode === "multipart") {
    const form = new FormData();
    form.append("file", new Blob([bad], { type: "audio/wav" }), "bad.wav");
    return fetch(origin + "/v1/transcriptions", { method: "POST", headers: auth, body: form });
  }
  const ticket = await (await fetch(origin + "/v1/uploads", { method: "POST", headers: auth })).json();
  const put = await fetch(ticket.url, { method: "PUT", headers: { "content-type": "audio/wav" }, body: bad });
  await put.body?.cancel();
  return fetch(origin + "/v1/transcriptions", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ upload_id: ticket.upload_id }) });
}
async function uploader() {
  while (Date.now() < until) {
    const res = await uploadOnce();
    await res.body?.cancel();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    uploads++;
  }
}
const latencies = [];
let failures = 0;
async function prober() {
  while (Date.now() < until) {
    const started = performance.now();
    try {
      const res = await fetch(origin + "/healthz");
      await res.body?.cancel();
    } catch {
      failures++; // a reset connection counts as a failed probe; its wait still counts as latency
    }
    latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
Promise.all([...Array.from({ length: clients }, uploader), prober()]).then(() => parentPort.postMessage({ latencies, uploads, statuses, failures }));
`;

async function healthUnderBadUploads(label: string, probe: AudioProbe, bad: Uint8Array, mode: "multipart" | "upload-url"): Promise<void> {
  const edge = await startEdge(probe);
  const client = new Worker(CLIENT_SOURCE, { eval: true, workerData: { origin: edge.origin, auth: edge.auth, bad, clients, seconds, mode } });
  const result: { latencies: number[]; uploads: number; statuses: Record<string, number>; failures: number } = await new Promise((resolve, reject) => {
    client.once("message", resolve);
    client.once("error", reject);
  });
  await client.terminate();
  await edge.close();
  const latencies = result.latencies.sort((a, b) => a - b);
  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(
    `${label.padEnd(44)} /healthz n=${latencies.length}  p50 ${f(percentile(latencies, 50))}  p99 ${f(percentile(latencies, 99))}  max ${f(latencies[latencies.length - 1])}  failed ${result.failures}` +
      `   bad uploads answered: ${result.uploads} (${Object.entries(result.statuses).map(([s, n]) => `${n}×${s}`).join(", ")})`,
  );
}

async function rssUnderParallelPuts(): Promise<void> {
  const pool = new DecodePool();
  const edge = await startEdge(nodeAudioProbe(config.limits, pool));
  const chunk = new Uint8Array(1024 * 1024).fill(7);
  const body = () =>
    new ReadableStream<Uint8Array>({
      start() {
        this.sent = 0;
      },
      pull(controller) {
        if ((this.sent as number)++ >= putMegabytes) return controller.close();
        controller.enqueue(chunk);
      },
    } as UnderlyingDefaultSource<Uint8Array> & { sent?: number });
  const tickets = await Promise.all(
    Array.from({ length: puts }, async () => (await (await fetch(`${edge.origin}/v1/uploads`, { method: "POST", headers: edge.auth })).json()) as { url: string }),
  );
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const statuses = await Promise.all(
    tickets.map(async ({ url }) => {
      const res = await fetch(url, {
        method: "PUT",
        headers: { "content-type": "audio/wav", "content-length": String(putMegabytes * 1024 * 1024) },
        body: body(),
        duplex: "half",
      } as RequestInit);
      await res.body?.cancel();
      return res.status;
    }),
  );
  clearInterval(sampler);
  await edge.close();
  await pool.close();
  const MiB = 1024 * 1024;
  console.log(
    `${puts} parallel PUTs of ${putMegabytes} MB  edge+client RSS before ${(before / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB, growth ${((peak - before) / MiB).toFixed(1)} MiB  (statuses ${statuses.join(",")})`,
  );
}

const bad = wavRefusedAtLastSample(megabytes);
console.log(`${clients} clients uploading ${megabytes} MB WAVs refused at their last sample, for ${seconds} s each run`);
const pool = new DecodePool();
await healthUnderBadUploads("upload URL, decode in thread pool", nodeAudioProbe(config.limits, pool), bad, "upload-url");
if (!values["skip-old"]) await healthUnderBadUploads("upload URL, decode on event loop (old)", inlineProbe, bad, "upload-url");
await healthUnderBadUploads("multipart, decode in thread pool", nodeAudioProbe(config.limits, pool), bad, "multipart");
if (!values["skip-old"]) await healthUnderBadUploads("multipart, decode on event loop (old)", inlineProbe, bad, "multipart");
await pool.close();
await rssUnderParallelPuts();
