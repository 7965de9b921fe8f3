import type { R2BucketLike } from "../../shared/adapters/r2-blob-store.js";
import { S3ApiBucket } from "../../shared/adapters/s3-api-bucket.js";
import type { WorkerEnv } from "./env.js";

/**
 * Where the Worker keeps audio. BLOB_STORE unset or `r2`: the R2 binding (production: no credentials, streams
 * straight in). BLOB_STORE=`s3`: the same bucket through its S3 API (R2_S3_ENDPOINT, R2_BUCKET_NAME, R2 keys):
 * what `npm run start:workers` uses, because wrangler's local R2 is a private store that the GPU worker, which
 * reads through the S3 API, cannot see.
 */
export function workerBucket(env: WorkerEnv): R2BucketLike {
  const kind = env.BLOB_STORE || "r2";
  if (kind === "r2") return env.UPLOADS_BUCKET;
  if (kind !== "s3") throw new Error(`BLOB_STORE must be r2 or s3, not ${JSON.stringify(kind)}`);
  const { R2_S3_ENDPOINT: endpoint, R2_BUCKET_NAME: bucket, R2_ACCESS_KEY_ID: accessKeyId, R2_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!endpoint || !bucket || !accessKeyId || !secretAccessKey) {
    throw new Error("BLOB_STORE=s3 needs R2_S3_ENDPOINT, R2_BUCKET_NAME, R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY");
  }
  return new S3ApiBucket({ endpoint, bucket, accessKeyId, secretAccessKey });
}
