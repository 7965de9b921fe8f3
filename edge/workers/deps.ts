import { R2BlobStore } from "../../shared/adapters/r2-blob-store.js";
import { createLogger, type LogLevel } from "../../shared/logger.js";
import type { EdgeDeps } from "../deps.js";
import { workerBucket } from "./bucket.js";
import { workerServiceConfig } from "./config.js";
import { openRequestDatabase } from "./database.js";
import { workerDirectUploads } from "./direct-uploads.js";
import type { WorkerEnv } from "./env.js";
import { headerAudioProbe } from "./header-probe.js";
import { workerJobQueue } from "./queue.js";

export interface RequestDeps {
  deps: EdgeDeps;
  /** Ends what belongs to this request (its database connections). */
  close(): Promise<void>;
}

/**
 * EdgeDeps from the bindings, for one request. No `resolveHost`: Workers have no DNS API, so the SSRF guard
 * checks literal addresses only (Cloudflare's egress does not reach private networks anyway).
 */
export function workerDeps(env: WorkerEnv): RequestDeps {
  const config = workerServiceConfig(env);
  const blobs = new R2BlobStore(workerBucket(env));
  const queue = workerJobQueue(env);
  const database = openRequestDatabase(env);
  return {
    deps: {
      db: database.db,
      blobs,
      queue,
      config,
      probeAudio: headerAudioProbe(config.limits),
      logger: createLogger({ service: "edge", runtime: "workers" }, { level: (env.LOG_LEVEL as LogLevel | undefined) ?? "info" }),
      adminToken: env.ADMIN_TOKEN,
      uploads: workerDirectUploads(env, blobs, config),
    },
    close: database.close,
  };
}
