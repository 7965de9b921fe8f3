import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { createApp } from "../../edge/app.js";
import type { EdgeDeps } from "../../edge/deps.js";
import { nodeAudioProbe } from "../../edge/node-probe.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import { wholeObjectInspector } from "../../edge/upload/direct-uploads.js";
import { EdgeRelayUploads } from "../../edge/upload/presign.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { parseServiceConfig, type ServiceConfigInput } from "../../shared/config.js";
import { silentLogger } from "../../shared/logger.js";
import { testDatabase, type TestDatabase } from "./database.js";
import { RecordingQueue } from "./edge-harness.js";

/** The API over real HTTP on 127.0.0.1 with relay uploads, an admin token, a settable clock and two keys. */
export interface BrowserEdge {
  url: string;
  database: TestDatabase;
  queue: RecordingQueue;
  adminToken: string;
  /** The first key lists https://key-app.example as its own allowed origin. */
  apiKey: string;
  apiKeyId: string;
  otherKey: string;
  clock: { now: Date };
  request(path: string, init?: RequestInit & { key?: string }): Promise<Response>;
  close(): Promise<void>;
}

export async function startBrowserEdge(config: ServiceConfigInput = {}): Promise<BrowserEdge> {
  const database = await testDatabase("postgres");
  const blobDir = await mkdtemp(join(tmpdir(), "browser-edge-"));
  const blobs = new FsBlobStore(blobDir);
  const parsed = parseServiceConfig(config);
  const probeAudio = nodeAudioProbe(parsed.limits);
  const queue = new RecordingQueue();
  const clock = { now: new Date() };
  const adminToken = "adm_browser_edge_0123456789abcdef";
  const deps: EdgeDeps = {
    db: database.db,
    blobs,
    queue,
    config: parsed,
    probeAudio,
    logger: silentLogger,
    now: () => clock.now,
    adminToken,
    uploads: { signer: new EdgeRelayUploads("a-local-secret-for-tests"), maxBytes: 1_000_000, urlTtlSeconds: 600, inspect: wholeObjectInspector(blobs, probeAudio) },
  };
  const app = createApp(deps);
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { key: apiKey, record } = await createApiKey(database.db, { name: "browser", allowedOrigins: ["https://key-app.example"] });
  const { key: otherKey } = await createApiKey(database.db, { name: "browser-other" });
  return {
    url,
    database,
    queue,
    adminToken,
    apiKey,
    apiKeyId: record.id,
    otherKey,
    clock,
    request: (path, init = {}) => {
      const { key = apiKey, headers, ...rest } = init;
      return fetch(url + path, { ...rest, headers: { Authorization: `Bearer ${key}`, ...(headers as Record<string, string> | undefined) } });
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await database.cleanup();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}
