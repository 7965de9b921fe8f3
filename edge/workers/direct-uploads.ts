import type { R2BlobStore } from "../../shared/adapters/r2-blob-store.js";
import type { ServiceConfig } from "../../shared/config.js";
import type { DirectUploads } from "../upload/direct-uploads.js";
import { EdgeRelayUploads, S3PresignedUploads, type UploadSigner } from "../upload/presign.js";
import { numberVar, type WorkerEnv } from "./env.js";
import { r2UploadInspector } from "./r2-upload-inspector.js";

const GiB = 1024 ** 3;

/**
 * Presigned PUTs straight to R2 when its S3 API credentials are set (the file never passes through the Worker,
 * so it may exceed the request body limit). Without them, with UPLOAD_SIGNING_SECRET, upload URLs point back to
 * the Worker (local development: those bodies are subject to the request limit). Neither: uploads are off.
 */
export function workerDirectUploads(env: WorkerEnv, store: R2BlobStore, config: ServiceConfig): DirectUploads | undefined {
  const signer = uploadSigner(env);
  if (!signer) return undefined;
  const urlTtlSeconds = numberVar(env.UPLOAD_URL_TTL_SECONDS) ?? 3600;
  // SigV4 presigned URLs live at most 7 days.
  if (urlTtlSeconds <= 0 || urlTtlSeconds > 7 * 24 * 3600) throw new Error("UPLOAD_URL_TTL_SECONDS must be between 1 and 604800");
  return {
    signer,
    maxBytes: numberVar(env.UPLOAD_MAX_BYTES) ?? 2 * GiB,
    urlTtlSeconds,
    inspect: r2UploadInspector(store, config.limits),
  };
}

function uploadSigner(env: WorkerEnv): UploadSigner | undefined {
  const { R2_S3_ENDPOINT: endpoint, R2_BUCKET_NAME: bucket, R2_ACCESS_KEY_ID: accessKeyId, R2_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (endpoint && bucket && accessKeyId && secretAccessKey) return new S3PresignedUploads({ endpoint, bucket, accessKeyId, secretAccessKey });
  if (env.UPLOAD_SIGNING_SECRET) return new EdgeRelayUploads(env.UPLOAD_SIGNING_SECRET);
  return undefined;
}
