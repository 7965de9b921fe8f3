import { lookup } from "node:dns/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isEntryPoint } from "../shared/entry-point.js";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { createDatabase, type Database } from "../db/client.js";
import { createGuardedFetch } from "../shared/adapters/guarded-fetch.js";
import { blobStoreFromEnv, queueFromEnv } from "../shared/adapters/from-env.js";
import type { BlobStore } from "../shared/blob-store.js";
import type { ServiceConfig } from "../shared/config.js";
import { loadServiceConfig } from "../shared/config-file.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { supportedLanguageCodes } from "../shared/model-languages.js";
import type { ResolveHost } from "../shared/network-guard.js";
import type { JobQueue } from "../shared/queue.js";
import { createApp } from "./app.js";
import { nodeDocsAssets } from "./docs-assets.js";
import { streamingFormData } from "./multipart-stream.js";
import { nodeAudioProbe } from "./node-probe.js";
import { relayDirectUploads } from "./upload/direct-uploads.js";
import { attachNodeObservability, type NodeObservability } from "./observability/node-observability.js";
import { ensureApiKey } from "./store/api-keys.js";

export const resolveWithDns: ResolveHost = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export interface EdgeServer {
  url: string;
  port: number;
  /** /metrics, the dashboard and the job-statistics poll behind them. */
  observability: NodeObservability;
  close(): Promise<void>;
}

export interface StartEdgeOptions {
  config: ServiceConfig;
  database: Database;
  blobs: BlobStore;
  queue: JobQueue;
  logger?: Logger;
  adminToken?: string;
  bootstrapApiKey?: string;
  /** How often the dashboard's and /metrics' job counts are read (default 5 s). */
  jobStatsIntervalMs?: number;
  /** HMAC key of the upload URLs (POST /v1/uploads); shared by every edge process. Random per process when unset. */
  uploadSigningSecret?: string;
}

/** The served model's config.json, for its languages; undefined where the edge has no model directory. */
function readModelConfigJson(dir: string): unknown {
  const path = join(dir, "config.json");
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as unknown) : undefined;
}

/** Largest file accepted through POST /v1/uploads (the 4 h duration limit applies as well). */
const MAX_DIRECT_UPLOAD_BYTES = 2 * 1024 ** 3;

/** The API on Node: the same Hono app as on Workers, with Node adapters. */
export async function startEdgeServer(options: StartEdgeOptions): Promise<EdgeServer> {
  const logger = options.logger ?? createLogger({ service: "edge" });
  if (options.bootstrapApiKey) await ensureApiKey(options.database.db, options.bootstrapApiKey, "bootstrap");
  const probeAudio = nodeAudioProbe(options.config.limits);
  const app = createApp({
    db: options.database.db,
    blobs: options.blobs,
    queue: options.queue,
    config: options.config,
    probeAudio,
    // Files too large for one request go to POST /v1/uploads, then PUT to the URL it returns (back to this API).
    uploads: relayDirectUploads({
      blobs: options.blobs,
      probe: probeAudio,
      secret: options.uploadSigningSecret ?? Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"),
      maxBytes: MAX_DIRECT_UPLOAD_BYTES,
      publicBaseUrl: process.env.PUBLIC_BASE_URL,
    }),
    resolveHost: resolveWithDns,
    parseMultipart: streamingFormData,
    // audio_url downloads connect only to the address the SSRF guard checked (no second DNS answer).
    fetch: createGuardedFetch(options.config.network.allowPrivateTargets),
    supportedLanguages: supportedLanguageCodes(options.config.model.languages, readModelConfigJson(options.config.model.dir)),
    logger,
    adminToken: options.adminToken,
    docsAssets: nodeDocsAssets,
  });
  const observability = attachNodeObservability(app, {
    db: options.database.db,
    logger,
    adminToken: options.adminToken,
    jobStatsIntervalMs: options.jobStatsIntervalMs,
  });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: observability.metrics.instrument(app.fetch), port: options.config.server.port, hostname: options.config.server.host }, () => resolve(s));
  });
  // Longer than clients' and load balancers' idle timeouts, so the server is not the side that closes a
  // kept-alive connection just as a request is sent on it.
  if ("keepAliveTimeout" in server) {
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.config.server.host}:${port}`;
  logger.info("edge listening", { url });
  return {
    url,
    port,
    observability,
    close: async () => {
      await observability.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `tsx edge/node.ts`: production-style start from the environment (DATABASE_URL, SQS_QUEUE_URL, BLOB_STORE…). */
async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const config = loadServiceConfig();
  const database = await createDatabase({ url: process.env.DATABASE_URL });
  const server = await startEdgeServer({
    config,
    database,
    blobs: blobStoreFromEnv(process.env),
    queue: queueFromEnv(process.env),
    adminToken: process.env.ADMIN_TOKEN,
    bootstrapApiKey: process.env.BOOTSTRAP_API_KEY,
    uploadSigningSecret: process.env.UPLOAD_SIGNING_SECRET,
  });
  const stop = async () => {
    await server.close();
    await database.close();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (isEntryPoint(import.meta.url)) await main();
