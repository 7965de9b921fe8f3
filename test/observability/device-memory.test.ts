import { describe, expect, it } from "vitest";
import { nvidiaSmiProbe, parseComputeApps, parseMemoryUsed, processRssProbe } from "../../gpu-worker/device-memory.js";

const MiB = 1024 ** 2;

describe("measured memory", () => {
  it("parses nvidia-smi's per-process and per-device answers", () => {
    expect(parseComputeApps("4242, 1536\n99, 800\n4242, 64\n", 4242)).toBe(1600 * MiB);
    expect(parseComputeApps("99, 800\n", 4242)).toBeNull();
    expect(parseComputeApps("", 4242)).toBeNull();
    expect(parseMemoryUsed("5120\n")).toBe(5120 * MiB);
    expect(parseMemoryUsed("[N/A]\n")).toBeNull();
  });

  it("asks for this process first, then the device total, and never throws", async () => {
    const calls: string[][] = [];
    const own = nvidiaSmiProbe(1, async (args) => (calls.push(args), "123, 2048\n"), 123);
    expect(await own()).toEqual({ bytes: 2048 * MiB, source: "cuda" });
    expect(calls[0]).toEqual(["-i", "1", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]);

    // In a container the driver lists host PIDs: the device total stands in, labelled as such.
    const hidden = nvidiaSmiProbe(0, async (args) => (args[2].startsWith("--query-compute-apps") ? "777, 900\n" : "3000\n"), 123);
    expect(await hidden()).toEqual({ bytes: 3000 * MiB, source: "gpu_device_total" });

    const missing = nvidiaSmiProbe(0, async () => Promise.reject(new Error("nvidia-smi: not found")));
    expect(await missing()).toBeNull();
  });

  it("reports the host RSS on the CPU provider", async () => {
    const reading = await processRssProbe();
    expect(reading?.source).toBe("process_rss");
    expect(reading?.bytes).toBeGreaterThan(10 * MiB);
  });
});
