import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/api-error.js";
import { BodyLengthMismatch, type BlobStore } from "../../shared/blob-store.js";
import type { AppEnv } from "../env.js";
import { errorResponses } from "../schemas.js";
import { newUploadId, uploadBlobKey, type DirectUploads } from "../upload/direct-uploads.js";
import { EdgeRelayUploads } from "../upload/presign.js";
import { grantToBrowserToken } from "../store/browser-tokens.js";
import { eq } from "drizzle-orm";
import { apiKeys } from "../../db/schema.js";
import type { EdgeDeps } from "../deps.js";
import { countRequest } from "../store/limits.js";
import { claimUploadPut, markUploadReceived, recordUpload, releaseUploadPut, sweepUnusedUploads, type PutRefusal } from "../store/uploads.js";

const UploadSchema = z
  .object({
    object: z.literal("upload"),
    upload_id: z.string().openapi({ example: "up_0k2n6bq9x1m4r7t3v5y8z0a2" }),
    url: z.string().openapi({ description: "PUT the file's bytes here (no Authorization header), before expires_at" }),
    method: z.literal("PUT"),
    expires_at: z.string(),
    max_bytes: z.number().int().openapi({ description: "Largest file accepted; a larger one is refused (413) when the job is created" }),
  })
  .openapi("Upload");

const createUpload = createRoute({
  method: "post",
  path: "/v1/uploads",
  tags: ["Uploads"],
  summary: "Get a URL to upload a large file to",
  description:
    "For files larger than a request to the API may be (100 MB on Workers). PUT the file to `url`, then create the job " +
    'with `POST /v1/transcriptions` and JSON `{ "upload_id": "…" }`; the audio is checked then, like an upload. ' +
    "An upload id belongs to the key that created it and makes one job.",
  responses: {
    200: { description: "Where to PUT the file", content: { "application/json": { schema: UploadSchema } } },
    ...errorResponses(401, 404, 429, 503),
  },
});

const relayUpload = createRoute({
  method: "put",
  path: "/v1/uploads/{id}",
  tags: ["Uploads"],
  summary: "Receive an upload (upload URLs that point back to the API)",
  description:
    "Where `url` points when the server stores files itself. The token in the URL is the credential: no API key. " +
    "Each URL takes one PUT, before it expires, while the key that asked for it is active and no job was made from it (403 otherwise).",
  security: [],
  request: {
    params: z.object({ id: z.string() }),
    query: z.object({ token: z.string() }),
    headers: z.object({ "content-length": z.string().optional() }),
  },
  responses: {
    200: {
      description: "Stored",
      content: { "application/json": { schema: z.object({ object: z.literal("upload"), upload_id: z.string(), bytes: z.number().int() }) } },
    },
    ...errorResponses(400, 403, 404, 413, 429),
  },
});

function requireDirectUploads(uploads: DirectUploads | undefined): DirectUploads {
  if (!uploads) throw new ApiError("not_found", "direct uploads are not enabled on this server; send the file with POST /v1/transcriptions");
  return uploads;
}

/** POST /v1/uploads, behind the API key like the other /v1 routes. */
export function uploadRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createUpload, async (c) => {
    const deps = c.get("deps");
    const uploads = requireDirectUploads(deps.uploads);
    const uploadId = newUploadId();
    const now = deps.now?.() ?? new Date();
    const target = {
      uploadId,
      key: uploadBlobKey(c.get("apiKey").id, uploadId),
      expiresAt: new Date(now.getTime() + uploads.urlTtlSeconds * 1000),
      maxBytes: uploads.maxBytes,
    };
    await recordUpload(deps.db, { id: uploadId, apiKeyId: c.get("apiKey").id, blobKey: target.key, maxBytes: target.maxBytes, expiresAt: target.expiresAt });
    // Uploads never made into a job are removed here, a few at a time (Workers have no timers to do it).
    await sweepUnusedUploads(deps.db, (key) => deps.blobs.delete(key), now).catch((error: unknown) => deps.logger.warn("upload sweep failed", { error }));
    const url = await uploads.signer.signPut(target, new URL(c.req.url).origin);
    // A browser token may make a job only from uploads it asked for itself.
    const browserToken = c.get("browserToken");
    if (browserToken) await grantToBrowserToken(deps.db, browserToken.id, uploadId);
    return c.json(
      { object: "upload" as const, upload_id: uploadId, url, method: "PUT" as const, expires_at: target.expiresAt.toISOString(), max_bytes: uploads.maxBytes },
      200,
    );
  });
}

/**
 * PUT /v1/uploads/{id}?token=…: the target of relay upload URLs. Registered ahead of the /v1 middleware: the
 * token is its credential (no API key), and it caps the body at the upload's own limit, not maxUploadBytes.
 */
export function uploadRelayRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(relayUpload, async (c) => {
    const deps = c.get("deps");
    const signer = requireDirectUploads(deps.uploads).signer;
    if (!(signer instanceof EdgeRelayUploads)) throw new ApiError("not_found", "uploads go straight to the bucket on this server");
    const target = await signer.verify(c.req.valid("param").id, c.req.valid("query").token, deps.now?.() ?? new Date());
    if (!target) throw new ApiError("forbidden", "the upload URL is invalid or has expired; ask POST /v1/uploads for a new one");
    const declared = c.req.header("content-length");
    // R2 stores a stream only when its length is known beforehand; every HTTP client sends it for a file.
    if (declared === undefined || !/^\d+$/.test(declared)) throw new ApiError("invalid_request", "Content-Length is required");
    const length = Number(declared);
    if (length > target.maxBytes) throw new ApiError("file_too_large", `the upload is ${length} bytes; at most ${target.maxBytes} are accepted`);
    const contentType = c.req.header("content-type") ?? "application/octet-stream";
    const now = deps.now?.() ?? new Date();
    // One PUT per URL, while the upload is unused and its key active: checked and marked in one statement.
    const claim = await claimUploadPut(deps.db, target.uploadId, target.key, now);
    if ("refused" in claim) throw new ApiError("forbidden", PUT_REFUSALS[claim.refused]);
    try {
      await countUploadPut(deps, claim.upload.apiKeyId, now);
      await storeBody(deps.blobs, target.key, c.req.raw.body, length, contentType);
      await markUploadReceived(deps.db, target.uploadId, length);
    } catch (error) {
      await deps.blobs.delete(target.key).catch(() => undefined);
      await releaseUploadPut(deps.db, target.uploadId);
      throw error;
    }
    return c.json({ object: "upload" as const, upload_id: target.uploadId, bytes: length }, 200);
  });
}

const PUT_REFUSALS: Record<PutRefusal, string> = {
  unknown: "no such upload; ask POST /v1/uploads for a URL",
  expired: "the upload URL has expired; ask POST /v1/uploads for a new one",
  already_received: "this upload URL already received its file; upload URLs take one PUT",
  already_used: "this upload already made a job; upload URLs are single-use",
  key_revoked: "the API key that asked for this upload URL has been revoked",
};

/** PUTs count against the key's requests per minute, like its other calls. */
async function countUploadPut(deps: EdgeDeps, apiKeyId: string, now: Date): Promise<void> {
  const [key] = await deps.db.select({ limit: apiKeys.rateLimitPerMinute }).from(apiKeys).where(eq(apiKeys.id, apiKeyId));
  const limit = key?.limit ?? deps.config.rateLimits.requestsPerMinute;
  const windowStart = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  if ((await countRequest(deps.db, apiKeyId, windowStart)) > limit) {
    const retryAfter = String(Math.max(1, Math.ceil((windowStart.getTime() + 60_000 - now.getTime()) / 1000)));
    throw new ApiError("rate_limited", `rate limit of ${limit} requests per minute exceeded`, { "Retry-After": retryAfter });
  }
}

async function storeBody(blobs: BlobStore, key: string, body: ReadableStream<Uint8Array> | null, length: number, contentType: string): Promise<void> {
  if (body && blobs.putStream) {
    try {
      return await blobs.putStream(key, body, length, contentType);
    } catch (error) {
      if (error instanceof BodyLengthMismatch) throw new ApiError("invalid_request", error.message);
      throw error;
    }
  }
  await blobs.put(key, await readExactly(body, length), contentType);
}

/** The body, which must be exactly `length` bytes (already checked against the upload's limit): no more is read. */
async function readExactly(body: ReadableStream<Uint8Array> | null, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let at = 0;
  if (body) {
    const reader = body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      if (at + chunk.value.length > length) {
        await reader.cancel();
        throw new ApiError("invalid_request", "the body is longer than its Content-Length");
      }
      bytes.set(chunk.value, at);
      at += chunk.value.length;
    }
  }
  if (at !== length) throw new ApiError("invalid_request", "the body is shorter than its Content-Length");
  return bytes;
}
