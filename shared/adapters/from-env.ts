import type { BlobStore } from "../blob-store.js";
import type { JobQueue, JobQueueReceiver } from "../queue.js";
import { FsBlobStore } from "./fs-blob-store.js";
import { S3BlobStore } from "./s3-blob-store.js";
import { sqsJobQueue } from "./sqs.js";

type Env = Record<string, string | undefined>;

/**
 * BLOB_STORE=fs (BLOB_DIR, default ./.data/blobs) or BLOB_STORE=s3 (S3_BUCKET, S3_ENDPOINT for R2, S3_REGION,
 * S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY, else the default AWS credentials).
 */
export function blobStoreFromEnv(env: Env): BlobStore {
  const kind = env.BLOB_STORE ?? "fs";
  if (kind === "fs") return new FsBlobStore(env.BLOB_DIR ?? "./.data/blobs");
  if (kind === "s3") {
    if (!env.S3_BUCKET) throw new Error("BLOB_STORE=s3 needs S3_BUCKET");
    // Separate credentials, so an R2 bucket and an AWS queue can be used together.
    const credentials =
      env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY } : undefined;
    return new S3BlobStore({ bucket: env.S3_BUCKET, endpoint: env.S3_ENDPOINT, region: env.S3_REGION ?? env.AWS_REGION, credentials });
  }
  throw new Error(`BLOB_STORE must be fs or s3, not ${kind}`);
}

/** SQS_QUEUE_URL (+ SQS_ENDPOINT for an emulator or VPC endpoint, AWS_REGION and credentials from the usual env). */
export function queueFromEnv(env: Env): JobQueue & JobQueueReceiver {
  const queueUrl = env.SQS_QUEUE_URL;
  if (!queueUrl) throw new Error("SQS_QUEUE_URL is required");
  return sqsJobQueue({ queueUrl, endpoint: env.SQS_ENDPOINT, region: env.AWS_REGION });
}
