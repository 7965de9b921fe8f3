import type { R2BucketLike } from "../../shared/adapters/r2-blob-store.js";

/** Workers' Hyperdrive binding: a connection string to its pooled proxy (no query parameters survive it). */
export interface HyperdriveBinding {
  connectionString: string;
}

/**
 * The Worker's bindings and variables (wrangler.toml `[vars]`, secrets via `wrangler secret put`).
 * Variables are strings; numbers are parsed where they are used.
 */
export interface WorkerEnv {
  HYPERDRIVE: HyperdriveBinding;
  UPLOADS_BUCKET: R2BucketLike;
  /** `r2` (default): audio through the UPLOADS_BUCKET binding; `s3`: through the S3 API (edge/workers/bucket.ts). */
  BLOB_STORE?: string;
  /** PostgreSQL schema holding the tables when it is not `public` (tests give each run its own). */
  DATABASE_SEARCH_PATH?: string;

  SQS_QUEUE_URL?: string;
  /** An SQS emulator or VPC endpoint; requests go to https://sqs.<region>.amazonaws.com otherwise. */
  SQS_ENDPOINT?: string;
  AWS_REGION?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;

  ADMIN_TOKEN?: string;
  LOG_LEVEL?: string;
  /** Origins whose pages may call the API (comma-separated; "*" for any), besides each key's own list. */
  CORS_ORIGINS?: string;
  /** Default lifetime of browser tokens (POST /v1/tokens). */
  BROWSER_TOKEN_TTL_SECONDS?: string;

  /** Limits (see shared/config.ts); the request-size one must stay under Workers' request body limit. */
  MAX_UPLOAD_BYTES?: string;
  MAX_DURATION_SECONDS?: string;
  MIN_DURATION_SECONDS?: string;

  /** Direct uploads: the largest object and how long its URL lives. */
  UPLOAD_MAX_BYTES?: string;
  UPLOAD_URL_TTL_SECONDS?: string;
  /** Presigned PUTs straight to the bucket, through R2's S3 API: https://<account id>.r2.cloudflarestorage.com */
  R2_S3_ENDPOINT?: string;
  R2_BUCKET_NAME?: string;
  R2_ACCESS_KEY_ID?: string;
  R2_SECRET_ACCESS_KEY?: string;
  /** Without R2 S3 credentials (wrangler dev), upload URLs point back to the Worker, signed with this. */
  UPLOAD_SIGNING_SECRET?: string;

  /** Other variables shared/config.ts reads (ALLOW_PRIVATE_TARGETS, OPENAI_WAIT_SECONDS…). */
  [name: string]: unknown;
}

/** A number from a variable; wrangler passes TOML numbers through as numbers, strings as strings. */
export function numberVar(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new Error(`expected a number, got ${JSON.stringify(value)}`);
  return parsed;
}
