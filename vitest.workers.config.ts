import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { workerTestVars } from "./test/workers/worker-vars.js";

/**
 * wrangler.toml as it is, but read from a folder of its own: wrangler reads the .dev.vars next to its config, and a
 * developer's file (pointing at their emulator, BLOB_STORE=s3…) must not change what these tests run against.
 */
function wranglerConfigWithoutDevVars(): string {
  const dir = join(tmpdir(), `qwen3-asr-workers-test-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const config = readFileSync("wrangler.toml", "utf8").replace(/^main = "(.+)"$/m, (_, main: string) => `main = ${JSON.stringify(resolve(main))}`);
  writeFileSync(join(dir, "wrangler.toml"), config);
  return join(dir, "wrangler.toml");
}

/**
 * The edge Worker under workerd (npm run test:workers): edge/worker.ts with wrangler.toml's bindings, Hyperdrive
 * pointed at this run's schema on the real PostgreSQL and SQS at the emulator that global-setup.ts starts in Node.
 * Test files are *.spec.ts so that the Node suite (test/**\/*.test.ts) leaves them alone.
 */
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: "./edge/worker.ts",
      wrangler: { configPath: wranglerConfigWithoutDevVars() },
      miniflare: {
        hyperdrives: { HYPERDRIVE: inject("hyperdriveUrl") },
        bindings: {
          ...workerTestVars,
          DATABASE_SEARCH_PATH: inject("databaseSchema"),
          SQS_ENDPOINT: inject("sqsEndpoint"),
          SQS_QUEUE_URL: inject("sqsQueueUrl"),
        },
      },
    })),
  ],
  test: {
    include: ["test/workers/**/*.spec.ts"],
    globalSetup: ["./test/workers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
