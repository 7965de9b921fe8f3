import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ApiError } from "../shared/api-error.js";
import { AudioError, type AudioErrorCode, type AudioFormat } from "../shared/audio-sniff.js";

/** What a full decode found out about an upload. */
export interface DecodedSummary {
  format: AudioFormat;
  durationSeconds: number;
}

export interface DecodeLimits {
  maxDurationSeconds: number;
  minDurationSeconds: number;
}

export interface DecodePoolOptions {
  /** Decodes at once (default: half the cores, at least 1, at most 4). */
  threads?: number;
  /** A decode running longer is stopped (its thread is terminated) and the file refused (default 30 s). */
  deadlineMs?: number;
  /** Decodes allowed to wait for a thread; more are answered 503 with Retry-After (default 4 per thread). */
  maxWaiting?: number;
}

type Reply = { id: number; ok: true; summary: DecodedSummary } | { id: number; ok: false; audio: boolean; code?: string; message: string };

interface Task {
  id: number;
  bytes: Uint8Array;
  limits: DecodeLimits;
  resolve(summary: DecodedSummary): void;
  reject(error: unknown): void;
}

// The thread loads gpu-worker/audio/decode.ts, the same decoder the GPU worker runs; under tsx or vitest the
// source is TypeScript, so the thread registers tsx's loader first (a compiled build imports it as it is).
const THREAD_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
(async () => {
  if (workerData.decoderUrl.endsWith(".ts")) (await import("tsx/esm/api")).register();
  const { decodeAudio } = await import(workerData.decoderUrl);
  parentPort.on("message", async ({ id, bytes, limits }) => {
    try {
      const decoded = await decodeAudio(bytes, limits);
      parentPort.postMessage({ id, ok: true, summary: { format: decoded.sourceFormat, durationSeconds: decoded.durationSeconds } });
    } catch (error) {
      parentPort.postMessage({ id, ok: false, audio: error && error.name === "AudioError", code: error && error.code, message: String(error && error.message) });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((error) => { throw error; });
`;

const decoderUrl = (): string => {
  const here = new URL(import.meta.url);
  return new URL(`../gpu-worker/audio/decode${here.pathname.endsWith(".ts") ? ".ts" : ".js"}`, here).href;
};

/**
 * Full decodes of untrusted uploads, off the event loop: a few worker threads, a deadline per file and a bounded
 * queue. A file built to be slow or huge to decode ties up one thread for at most the deadline, never the edge's
 * event loop, so /healthz and every other request keep being answered.
 */
export class DecodePool {
  private readonly threads: number;
  private readonly deadlineMs: number;
  private readonly maxWaiting: number;
  private readonly idle: Worker[] = [];
  private readonly waiting: Task[] = [];
  private started = 0;
  private nextId = 1;
  private closed = false;

  constructor(options: DecodePoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? Math.min(4, Math.floor(availableParallelism() / 2)));
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.maxWaiting = options.maxWaiting ?? this.threads * 4;
  }

  /** Decodes `bytes` in a thread; throws AudioError for unusable audio, ApiError 503 when too many are waiting. */
  decode(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedSummary> {
    if (this.closed) return Promise.reject(new Error("the decode pool is closed"));
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(new ApiError("service_unavailable", "too many uploads are being checked right now; retry shortly", { "Retry-After": "2" }));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, bytes, limits, resolve, reject });
      void this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.waiting.splice(0)) task.reject(new Error("the decode pool is closed"));
    await Promise.all(this.idle.splice(0).map((worker) => worker.terminate()));
  }

  private async dispatch(): Promise<void> {
    while (this.waiting.length > 0) {
      let worker = this.idle.pop();
      if (!worker) {
        if (this.started >= this.threads) return; // every thread is busy: the task waits for one
        this.started++;
        try {
          worker = await this.spawn();
        } catch (error) {
          this.started--;
          this.waiting.shift()?.reject(error);
          continue;
        }
      }
      const task = this.waiting.shift();
      if (!task) {
        this.idle.push(worker);
        return;
      }
      this.run(worker, task);
    }
  }

  private spawn(): Promise<Worker> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { decoderUrl: decoderUrl() } });
      // Idle threads must not keep the process alive.
      worker.unref();
      worker.once("message", () => resolve(worker));
      worker.once("error", reject);
    });
  }

  private run(worker: Worker, task: Task): void {
    const finish = (replace: boolean) => {
      clearTimeout(timer);
      worker.removeAllListeners("message");
      worker.removeAllListeners("error");
      if (replace) {
        void worker.terminate();
        this.started--;
      } else {
        worker.unref();
        this.idle.push(worker);
      }
      void this.dispatch();
    };
    const timer = setTimeout(() => {
      finish(true);
      task.reject(new AudioError("undecodable_audio", `the file could not be decoded within ${Math.round(this.deadlineMs / 1000)} s`));
    }, this.deadlineMs);
    worker.on("message", (reply: Reply) => {
      if (reply.id !== task.id) return;
      finish(false);
      if (reply.ok) task.resolve(reply.summary);
      else if (reply.audio) task.reject(new AudioError(reply.code as AudioErrorCode, reply.message));
      else task.reject(new Error(reply.message));
    });
    worker.on("error", (error) => {
      finish(true);
      task.reject(error);
    });
    worker.ref(); // a decode in flight keeps the process alive; an idle thread does not
    worker.postMessage({ id: task.id, bytes: task.bytes, limits: task.limits });
  }
}

let shared: DecodePool | null = null;

/** The process's pool, started on first use. */
export function sharedDecodePool(): DecodePool {
  shared ??= new DecodePool();
  return shared;
}
