import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { workerTestVars } from "./test/workers/worker-vars.js";

/**
 * The edge Worker under workerd (npm run test:workers): edge/worker.ts with wrangler.toml's bindings, Hyperdrive
 * pointed at this run's schema on the real PostgreSQL and SQS at the emulator that global-setup.ts starts in Node.
 * Test files are *.spec.ts so that the Node suite (test/**\/*.test.ts) leaves them alone.
 */
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: "./edge/worker.ts",
      wrangler: { configPath: "./wrangler.toml" },
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
