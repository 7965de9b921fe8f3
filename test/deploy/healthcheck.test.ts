import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot } from "./dockerfile.js";

const run = promisify(execFile);

/** Runs the probe as the image does; resolves to its exit code. */
async function probe(env: Record<string, string>): Promise<number> {
  try {
    await run(process.execPath, [join(repoRoot, "gpu-worker/healthcheck.mjs")], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 10_000 });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function metricsServer(handle: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handle);
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return String((server.address() as AddressInfo).port);
}

async function closedPort(): Promise<string> {
  const port = await metricsServer(() => undefined);
  await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
  return port;
}

describe("gpu-worker/healthcheck.mjs", () => {
  it("is healthy when /metrics answers 200", async () => {
    const port = await metricsServer((_, res) => res.end("# metrics\n"));
    expect(await probe({ WORKER_METRICS_PORT: port })).toBe(0);
  });

  it("is unhealthy on an error status or no answer (a wedged event loop)", async () => {
    const failing = await metricsServer((_, res) => res.writeHead(500).end());
    expect(await probe({ WORKER_METRICS_PORT: failing })).toBe(1);
    await new Promise<void>((r) => server!.close(() => r()));
    const silent = await metricsServer(() => undefined);
    expect(await probe({ WORKER_METRICS_PORT: silent, HEALTHCHECK_TIMEOUT_MS: "300" })).toBe(1);
    server!.closeAllConnections();
  });

  it("treats nothing listening as healthy unless the metrics server is required", async () => {
    const port = await closedPort();
    expect(await probe({ WORKER_METRICS_PORT: port })).toBe(0);
    expect(await probe({ WORKER_METRICS_PORT: port, HEALTHCHECK_REQUIRE_METRICS: "1" })).toBe(1);
    expect(await probe({ WORKER_METRICS_PORT: "off" })).toBe(0);
  });
});
