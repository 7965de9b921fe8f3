import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startEdgeServer, type EdgeServer } from "../../edge/node.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import type { ServiceConfigInput } from "../../shared/config.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import type { DatabaseKind } from "../support/database.js";
import { startStack, type Stack } from "../support/stack.js";

export const MODEL = fileURLToPath(new URL("../fixtures/models/tiny-random", import.meta.url));
export const speechWav = readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url));
export const shortWav = readFileSync(new URL("../fixtures/audio/short.wav", import.meta.url));

/**
 * startStack's pipeline plus a second edge on the same database, queue and blobs with an admin token (the stack's
 * own edge has none): the admin API, /metrics and the dashboard live there.
 */
export interface ObservedStack extends Stack {
  admin: EdgeServer;
  adminToken: string;
  /** A request to the admin edge with the admin token. */
  adminRequest(path: string, init?: RequestInit): Promise<Response>;
  /** Uploads through the admin edge with an API key and waits for the job to finish. */
  transcribe(file: Buffer, options?: { key?: string; webhookUrl?: string; name?: string }): Promise<Record<string, unknown>>;
}

export async function startObservedStack(kind: DatabaseKind, overrides: ServiceConfigInput = {}, logger: Logger = silentLogger, adminToken = "adm_observability_0123456789abcdef"): Promise<ObservedStack> {
  // Polling job status every 100 ms would trip the default 60 requests/minute per key.
  const stack = await startStack(kind, { model: { dir: MODEL }, rateLimits: { requestsPerMinute: 100_000 }, ...overrides }, logger);
  const queue = sqsJobQueue({ queueUrl: stack.sqs.queueUrl, endpoint: stack.sqs.endpoint });
  const admin = await startEdgeServer({
    config: stack.config,
    database: stack.database,
    blobs: new FsBlobStore(stack.blobDir),
    queue,
    logger,
    adminToken,
    jobStatsIntervalMs: 200,
  });
  const adminRequest = (path: string, init: RequestInit = {}) =>
    fetch(admin.url + path, { ...init, headers: { Authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) } });
  return {
    ...stack,
    admin,
    adminToken,
    adminRequest,
    async transcribe(file, options = {}) {
      const form = new FormData();
      form.append("file", new Blob([new Uint8Array(file)], { type: "audio/wav" }), options.name ?? "speech.wav");
      if (options.webhookUrl) form.append("webhook_url", options.webhookUrl);
      const created = await fetch(admin.url + "/v1/transcriptions", {
        method: "POST",
        headers: { Authorization: `Bearer ${options.key ?? stack.apiKey}` },
        body: form,
      });
      if (created.status !== 202) throw new Error(`upload answered ${created.status}: ${await created.text()}`);
      const { id } = (await created.json()) as { id: string };
      const deadline = Date.now() + 60_000;
      for (;;) {
        const job = (await (await fetch(`${admin.url}/v1/transcriptions/${id}`, { headers: { Authorization: `Bearer ${options.key ?? stack.apiKey}` } })).json()) as Record<string, unknown>;
        if (["completed", "failed", "canceled"].includes(String(job.status))) return job;
        if (Date.now() > deadline) throw new Error(`job ${id} still ${String(job.status)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      await admin.close();
      await stack.stop();
    },
  };
}
