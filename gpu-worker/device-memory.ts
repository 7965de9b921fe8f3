import { execFile } from "node:child_process";
import type { MemorySource } from "../shared/worker-sample.js";

/**
 * Measured memory, to set beside the memory model's estimate. onnxruntime-node does not expose its CUDA arena
 * statistics, so on a GPU the default asks the driver (nvidia-smi); a caller with a better source (an allocator
 * hook) passes its own probe to startWorker. On the CPU provider the process RSS is reported, as host memory.
 */
export interface MemoryMeasurement {
  bytes: number;
  source: MemorySource;
}

/** Resolves null when nothing could be measured; never throws. */
export type MemoryProbe = () => Promise<MemoryMeasurement | null>;

const MiB = 1024 ** 2;

export const processRssProbe: MemoryProbe = async () => ({ bytes: process.memoryUsage.rss(), source: "process_rss" });

/** Runs nvidia-smi with the given arguments and resolves its stdout. */
export type RunNvidiaSmi = (args: string[]) => Promise<string>;

const execNvidiaSmi: RunNvidiaSmi = (args) =>
  new Promise((resolve, reject) => {
    execFile("nvidia-smi", args, { timeout: 2000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });

/** `pid, used_memory` lines (MiB, no units) → this pid's bytes, or null when it is not listed. */
export function parseComputeApps(text: string, pid: number): number | null {
  let total: number | null = null;
  for (const line of text.split("\n")) {
    const [p, used] = line.split(",").map((s) => s.trim());
    if (Number(p) === pid && Number.isFinite(Number(used)) && used !== "") total = (total ?? 0) + Number(used) * MiB;
  }
  return total;
}

/** A `memory.used` line (MiB, no units) → bytes. */
export function parseMemoryUsed(text: string): number | null {
  const value = Number(text.trim().split("\n")[0]);
  return text.trim() !== "" && Number.isFinite(value) ? value * MiB : null;
}

/**
 * This process's memory on the device as the driver sees it (the budget counts exactly that). In a container
 * the driver may list host PIDs, hiding ours: then the device's whole used memory stands in, labelled so.
 */
export function nvidiaSmiProbe(deviceId: number, run: RunNvidiaSmi = execNvidiaSmi, pid = process.pid): MemoryProbe {
  return async () => {
    try {
      const apps = await run(["-i", String(deviceId), "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]);
      const own = parseComputeApps(apps, pid);
      if (own !== null) return { bytes: own, source: "cuda" };
      const used = parseMemoryUsed(await run(["-i", String(deviceId), "--query-gpu=memory.used", "--format=csv,noheader,nounits"]));
      return used === null ? null : { bytes: used, source: "gpu_device_total" };
    } catch {
      return null;
    }
  };
}

export function defaultMemoryProbe(executionProvider: "cpu" | "cuda", deviceId: number): MemoryProbe {
  return executionProvider === "cuda" ? nvidiaSmiProbe(deviceId) : processRssProbe;
}
