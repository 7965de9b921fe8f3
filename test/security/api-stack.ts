import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { createApp } from "../../edge/app.js";
import { DecodePool } from "../../edge/decode-pool.js";
import type { EdgeDeps } from "../../edge/deps.js";
import { streamingFormData } from "../../edge/multipart-stream.js";
import { nodeAudioProbe } from "../../edge/node-probe.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import { relayDirectUploads } from "../../edge/upload/direct-uploads.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { parseServiceConfig, type ServiceConfigInput } from "../../shared/config.js";
import { silentLogger } from "../../shared/logger.js";
import { testDatabase, type DatabaseKind, type TestDatabase } from "../support/database.js";
import { RecordingQueue } from "../support/edge-harness.js";

export const speechWav = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));

/** The Node edge as deployed (relay upload URLs, filesystem store), behind a real HTTP server on 127.0.0.1:0. */
export interface ApiStack {
  origin: string;
  app: ReturnType<typeof createApp>;
  database: TestDatabase;
  queue: RecordingQueue;
  blobDir: string;
  apiKey: string;
  apiKeyId: string;
  clock: { now: Date };
  auth(key?: string): Record<string, string>;
  newKey(options?: { monthlyAudioSecondsQuota?: number; rateLimitPerMinute?: number }): Promise<{ key: string; id: string }>;
  /** Every blob's path and bytes. */
  blobs(): Promise<{ path: string; bytes: Buffer }[]>;
  close(): Promise<void>;
}

export async function startApiStack(kind: DatabaseKind = "postgres", config: ServiceConfigInput = {}): Promise<ApiStack> {
  const database = await testDatabase(kind);
  const blobDir = await mkdtemp(join(tmpdir(), "security-blobs-"));
  const blobs = new FsBlobStore(blobDir);
  const queue = new RecordingQueue();
  const parsed = parseServiceConfig({ rateLimits: { requestsPerMinute: 10_000 }, ...config });
  const pool = new DecodePool({ threads: 2, maxWaiting: 200 });
  const probeAudio = nodeAudioProbe(parsed.limits, pool);
  const clock = { now: new Date() };
  const deps: EdgeDeps = {
    db: database.db,
    blobs,
    queue,
    config: parsed,
    probeAudio,
    logger: silentLogger,
    now: () => clock.now,
    resolveHost: async () => ["93.184.216.34"],
    parseMultipart: streamingFormData,
    uploads: relayDirectUploads({ blobs, probe: probeAudio, secret: "a-secret-for-security-tests", maxBytes: 200 * 1024 * 1024 }),
  };
  const app = createApp(deps);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const newKey: ApiStack["newKey"] = async (options = {}) => {
    const created = await createApiKey(database.db, { name: "security", ...options });
    return { key: created.key, id: created.record.id };
  };
  const first = await newKey();
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      out.push(...(entry.isDirectory() ? await walk(path) : [path]));
    }
    return out;
  };
  return {
    origin,
    app,
    database,
    queue,
    blobDir,
    apiKey: first.key,
    apiKeyId: first.id,
    clock,
    auth: (key = first.key) => ({ Authorization: `Bearer ${key}` }),
    newKey,
    blobs: async () => Promise.all((await walk(blobDir)).map(async (path) => ({ path, bytes: await readFile(path) }))),
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await pool.close();
      await database.cleanup();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}

export function wavForm(bytes: Uint8Array = speechWav, name = "speech.wav"): FormData {
  const form = new FormData();
  form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "audio/wav" }), name);
  return form;
}
