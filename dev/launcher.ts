/**
 * What `npm start` and `npm run start:workers` share: the local data folder, the API key a newcomer gets, and the
 * GPU worker as a supervised child process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateApiKey } from "../edge/store/api-keys.js";
import type { Logger } from "../shared/logger.js";

export const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const DATA = resolve(process.env.DATA_DIR ?? join(ROOT, ".data"));

/** BOOTSTRAP_API_KEY, or one generated on first start and kept in ./.data/dev-api-key. */
export function devApiKey(): string {
  if (process.env.BOOTSTRAP_API_KEY) return process.env.BOOTSTRAP_API_KEY;
  const path = join(DATA, "dev-api-key");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const key = generateApiKey();
  writeFileSync(path, key + "\n", { mode: 0o600 });
  return key;
}

export interface WorkerProcess {
  /** SIGTERM, then wait for its exit up to `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** SIGTERM without waiting (the launcher is exiting). */
  kill(): void;
}

/** The GPU worker (gpu-worker/main.ts) in its own process, restarted 2 s after it dies. */
export function superviseWorker(env: NodeJS.ProcessEnv, logger: Logger): WorkerProcess {
  let stopping = false;
  let worker: ChildProcess | null = null;
  const start = () => {
    worker = spawn(process.execPath, ["--import", "tsx", join(ROOT, "gpu-worker", "main.ts")], { env, stdio: "inherit", cwd: ROOT });
    worker.on("exit", (code, signal) => {
      if (stopping) return;
      logger.error("worker exited; restarting in 2 s", { code, signal });
      setTimeout(start, 2000);
    });
  };
  start();
  return {
    async stop(graceMs) {
      stopping = true;
      const running = worker;
      const exited = new Promise<void>((r) => (running && running.exitCode === null ? running.once("exit", () => r()) : r()));
      running?.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
    },
    kill() {
      stopping = true;
      if (worker?.exitCode === null) worker.kill("SIGTERM");
    },
  };
}
