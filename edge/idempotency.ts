import type { ApiKey } from "../db/schema.js";
import { ApiError } from "../shared/api-error.js";
import type { EdgeDeps } from "./deps.js";
import type { JobResource } from "./resources.js";
import { recordIdempotentResponse, releaseIdempotencyKey, reserveIdempotencyKey } from "./store/idempotency.js";
import type { CreateInput } from "./routes/transcriptions.js";

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What makes two create requests "the same": the audio bytes and the parameters (not the multipart framing). */
export async function hashCreateRequest(
  input: Pick<CreateInput, "bytes" | "language" | "webhookUrl"> & { prompt?: string | null; extra?: Record<string, unknown> },
): Promise<string> {
  const audio = await sha256Hex(input.bytes);
  return sha256Hex(JSON.stringify({ audio, language: input.language, webhookUrl: input.webhookUrl, prompt: input.prompt ?? null, ...input.extra }));
}

export interface Outcome {
  jobId: string;
  status: number;
  body: JobResource;
}

/**
 * Idempotency-Key handling: the first request with a key runs and its response is stored for the configured
 * time; a retry with the same body gets the stored response (Idempotent-Replayed), a different body 409, and a
 * retry while the first is still running 409 with Retry-After.
 */
export async function withIdempotency(
  deps: EdgeDeps,
  apiKey: ApiKey,
  key: string | undefined,
  requestHash: string,
  run: () => Promise<Outcome>,
): Promise<Outcome & { replayed: boolean }> {
  if (key === undefined) return { ...(await run()), replayed: false };
  if (key.length === 0 || key.length > 255) throw new ApiError("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters");
  const now = deps.now?.() ?? new Date();
  const reservation = await reserveIdempotencyKey(deps.db, apiKey.id, key, requestHash, deps.config.idempotency.ttlHours, now);
  if (reservation.kind === "existing") {
    const { row } = reservation;
    if (row.requestHash !== requestHash) {
      throw new ApiError("idempotency_key_reused", "this Idempotency-Key was used with a different request; use a new key");
    }
    if (row.responseStatus === null) {
      throw new ApiError("idempotency_key_in_use", "a request with this Idempotency-Key is still being processed", { "Retry-After": "1" });
    }
    return { jobId: row.jobId ?? "", status: row.responseStatus, body: row.responseBody as JobResource, replayed: true };
  }
  try {
    const outcome = await run();
    await recordIdempotentResponse(deps.db, apiKey.id, key, outcome.jobId, outcome.status, outcome.body);
    return { ...outcome, replayed: false };
  } catch (error) {
    await releaseIdempotencyKey(deps.db, apiKey.id, key).catch(() => undefined);
    throw error;
  }
}
