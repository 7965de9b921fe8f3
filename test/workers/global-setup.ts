import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { createApiKey } from "../../edge/store/api-keys.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { testDatabase, testDatabaseUrl } from "../support/database.js";
import { startNodeInspector } from "./node-inspector.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** For the Hyperdrive binding: the test server, with the password Hyperdrive insists on. */
    hyperdriveUrl: string;
    /** This run's schema on it, migrated; the Worker gets it as DATABASE_SEARCH_PATH. */
    databaseSchema: string;
    sqsEndpoint: string;
    sqsQueueUrl: string;
    inspectorUrl: string;
    apiKey: string;
    otherApiKey: string;
  }
}

/**
 * Node side of the workerd tests: a migrated schema on the real PostgreSQL, the SQS emulator, two API keys, and
 * the inspector the tests check results with. The pool hands their addresses to the Worker's bindings.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const database = await testDatabase("postgres");
  const sqs = await startSqsEmulatorProcess("workers-test-jobs");
  const queue = sqsJobQueue({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint, region: "us-east-1" });
  const inspector = await startNodeInspector(database.db, queue);
  // Rate limits well above what the tests send in a minute.
  const { key: apiKey } = await createApiKey(database.db, { name: "workers-test", rateLimitPerMinute: 10_000 });
  const { key: otherApiKey } = await createApiKey(database.db, { name: "workers-test-other", rateLimitPerMinute: 10_000 });

  const hyperdriveUrl = new URL(testDatabaseUrl);
  hyperdriveUrl.password ||= "postgres";
  hyperdriveUrl.search = "";
  project.provide("hyperdriveUrl", hyperdriveUrl.toString());
  project.provide("databaseSchema", database.schema ?? "public");
  project.provide("sqsEndpoint", sqs.endpoint);
  project.provide("sqsQueueUrl", sqs.queueUrl);
  project.provide("inspectorUrl", inspector.url);
  project.provide("apiKey", apiKey);
  project.provide("otherApiKey", otherApiKey);

  return async () => {
    await inspector.close();
    await sqs.stop();
    await database.cleanup();
  };
}

/** dev/sqs-emulator.ts in a child process (see sqs-emulator-process.ts for why). */
async function startSqsEmulatorProcess(queueName: string): Promise<{ endpoint: string; queueUrl: string; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL("./sqs-emulator-process.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, queueName], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = once(child, "exit");
  const firstLine = (async () => {
    for await (const line of createInterface({ input: child.stdout })) return line;
    throw new Error("the SQS emulator exited before it was listening");
  })();
  const { endpoint, queueUrl } = JSON.parse(await firstLine) as { endpoint: string; queueUrl: string };
  return {
    endpoint,
    queueUrl,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
