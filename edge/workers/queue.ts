import { SqsFetchQueue } from "../../shared/adapters/sqs-fetch.js";
import type { JobQueue } from "../../shared/queue.js";
import type { WorkerEnv } from "./env.js";

/** SQS over fetch + SigV4. An emulator (SQS_ENDPOINT) takes any credentials; AWS needs the secrets. */
export function workerJobQueue(env: WorkerEnv): JobQueue {
  if (!env.SQS_QUEUE_URL) throw new Error("SQS_QUEUE_URL is not set");
  const emulator = env.SQS_ENDPOINT !== undefined && env.SQS_ENDPOINT !== "";
  const accessKeyId = env.AWS_ACCESS_KEY_ID ?? (emulator ? "local" : undefined);
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY ?? (emulator ? "local" : undefined);
  if (!accessKeyId || !secretAccessKey) throw new Error("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (wrangler secret put)");
  return new SqsFetchQueue({
    queueUrl: env.SQS_QUEUE_URL,
    region: env.AWS_REGION ?? "us-east-1",
    accessKeyId,
    secretAccessKey,
    sessionToken: env.AWS_SESSION_TOKEN,
    endpoint: emulator ? env.SQS_ENDPOINT : undefined,
  });
}
