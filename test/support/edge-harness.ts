import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../edge/app.js";
import { streamingFormData } from "../../edge/multipart-stream.js";
import { nodeAudioProbe } from "../../edge/node-probe.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { parseServiceConfig, type ServiceConfigInput } from "../../shared/config.js";
import { silentLogger } from "../../shared/logger.js";
import type { JobMessage, JobQueue } from "../../shared/queue.js";
import { testDatabase, type DatabaseKind, type TestDatabase } from "./database.js";

/** Test double for the queue: records what the edge sends (the real SQS path is covered end to end). */
export class RecordingQueue implements JobQueue {
  readonly sent: JobMessage[] = [];
  failing = false;
  async send(message: JobMessage): Promise<void> {
    if (this.failing) throw new Error("queue unavailable");
    this.sent.push(message);
  }
}

export interface EdgeHarness {
  app: ReturnType<typeof createApp>;
  database: TestDatabase;
  queue: RecordingQueue;
  blobDir: string;
  apiKey: string;
  otherKey: string;
  blobCount(): Promise<number>;
  auth(key?: string): Record<string, string>;
  cleanup(): Promise<void>;
}

export async function edgeHarness(kind: DatabaseKind, config: ServiceConfigInput = {}, extra: { adminToken?: string; now?: () => Date } = {}): Promise<EdgeHarness> {
  const database = await testDatabase(kind);
  const blobDir = await mkdtemp(join(tmpdir(), "blobs-"));
  const queue = new RecordingQueue();
  const parsed = parseServiceConfig(config);
  const app = createApp({
    db: database.db,
    blobs: new FsBlobStore(blobDir),
    queue,
    config: parsed,
    probeAudio: nodeAudioProbe(parsed.limits),
    logger: silentLogger,
    resolveHost: async () => ["93.184.216.34"],
    // As the Node edge parses multipart bodies (edge/node.ts).
    parseMultipart: streamingFormData,
    adminToken: extra.adminToken,
    now: extra.now,
  });
  const { key: apiKey } = await createApiKey(database.db, { name: "test" });
  const { key: otherKey } = await createApiKey(database.db, { name: "other" });
  const count = async (dir: string): Promise<number> => {
    let n = 0;
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      n += entry.isDirectory() ? await count(join(dir, entry.name)) : 1;
    }
    return n;
  };
  return {
    app,
    database,
    queue,
    blobDir,
    apiKey,
    otherKey,
    blobCount: () => count(blobDir),
    auth: (key = apiKey) => ({ Authorization: `Bearer ${key}` }),
    async cleanup() {
      await database.cleanup();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}

export function multipart(fields: Record<string, string | Blob | { data: Uint8Array; name: string; type?: string }>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "string" || value instanceof Blob) form.append(name, value);
    else form.append(name, new Blob([value.data as Uint8Array<ArrayBuffer>], { type: value.type ?? "application/octet-stream" }), value.name);
  }
  return form;
}
