import type { ApiKey } from "../../db/schema.js";
import { ApiError } from "../../shared/api-error.js";
import type { BlobStore } from "../../shared/blob-store.js";
import type { AudioProbe, EdgeDeps, ProbedAudio } from "../deps.js";
import type { Tx } from "../../db/client.js";
import { findJob, newJobId } from "../store/jobs.js";
import { useUpload } from "../store/uploads.js";
import { EdgeRelayUploads, type UploadSigner } from "./presign.js";
import { validateAudio } from "./validate.js";

/** An uploaded object as the edge reads it to check it. */
export interface StoredObject {
  size: number;
  /** Its first bytes (all of them where the object is read whole): enough to sniff the format. */
  head: Uint8Array;
  /** What the audio is, checked the platform's way; throws AudioError when it is not usable. */
  probe(): Promise<ProbedAudio>;
}

/**
 * Uploads that go straight to storage (POST /v1/uploads, then a PUT to the URL it returns), for files larger
 * than a request to the API may be. Each entry point says how objects are signed for and read back.
 */
export interface DirectUploads {
  signer: UploadSigner;
  /** Largest object a job is made from (R2 and S3 take up to 5 GiB in one PUT). */
  maxBytes: number;
  /** How long an upload URL stays valid. */
  urlTtlSeconds: number;
  /** The object at `key`, or null when nothing was uploaded there. */
  inspect(key: string): Promise<StoredObject | null>;
}

/** Node: the object read whole and checked by the same probe as a multipart upload (a full decode). */
export function wholeObjectInspector(blobs: BlobStore, probe: AudioProbe): DirectUploads["inspect"] {
  return async (key) => {
    const bytes = await blobs.get(key);
    return bytes && { size: bytes.length, head: bytes, probe: () => probe(bytes) };
  };
}

export interface RelayUploadOptions {
  blobs: BlobStore;
  probe: AudioProbe;
  /** HMAC key for the upload URLs' tokens (≥ 16 characters); shared by every process that serves the API. */
  secret: string;
  maxBytes: number;
  urlTtlSeconds?: number;
  /** The API's public origin, when a proxy in front of it rewrites the one requests arrive with. */
  publicBaseUrl?: string;
}

/** Node with the filesystem store: upload URLs point back to the API, which writes the file to the store. */
export function relayDirectUploads(options: RelayUploadOptions): DirectUploads {
  return {
    signer: new EdgeRelayUploads(options.secret, options.publicBaseUrl),
    maxBytes: options.maxBytes,
    urlTtlSeconds: options.urlTtlSeconds ?? 3600,
    inspect: wholeObjectInspector(options.blobs, options.probe),
  };
}

const UPLOAD_ID = /^up_[0-9a-z]{24}$/;

export const newUploadId = (): string => `up_${newJobId().slice("tr_".length)}`;

/** Under the key's id, so an upload id sent with another key finds nothing. */
export const uploadBlobKey = (apiKeyId: string, uploadId: string): string => `uploads/${apiKeyId}/${uploadId}`;

/** The job an upload becomes shares its random part: a second job from one upload collides on the primary key. */
const jobIdForUpload = (uploadId: string): string => `tr_${uploadId.slice("up_".length)}`;

export interface OpenedUpload {
  jobId: string;
  audioKey: string;
  audioBytes: number;
  probed: ProbedAudio;
}

const noSuchUpload = () =>
  new ApiError("not_found", "no such upload: upload ids are single-use, belong to the key that created them, and need the file PUT first");

/**
 * The audio of `upload_id`, checked like a multipart upload (size, format from the bytes, probe, duration) where
 * it lies: it becomes the job's audio without being copied (it may not fit in a Worker's memory).
 */
export async function openStoredUpload(deps: EdgeDeps, apiKey: ApiKey, uploadId: string): Promise<OpenedUpload> {
  const uploads = deps.uploads;
  if (!uploads || !UPLOAD_ID.test(uploadId)) throw noSuchUpload();
  const jobId = jobIdForUpload(uploadId);
  if (await findJob(deps.db, apiKey.id, jobId)) throw noSuchUpload();
  const audioKey = uploadBlobKey(apiKey.id, uploadId);
  const stored = await uploads.inspect(audioKey);
  if (!stored) throw noSuchUpload();
  if (stored.size > uploads.maxBytes) {
    throw new ApiError("file_too_large", `the upload is ${stored.size} bytes; at most ${uploads.maxBytes} are accepted`);
  }
  const probed = await validateAudio(stored.head, () => stored.probe(), { ...deps.config.limits, maxUploadBytes: uploads.maxBytes });
  return { jobId, audioKey, audioBytes: stored.size, probed };
}

/** In the job's insert transaction: marks the upload used by the job, or refuses the job (unknown, used, not PUT). */
export function useStoredUpload(deps: EdgeDeps, apiKey: ApiKey, uploadId: string, jobId: string): (tx: Tx) => Promise<void> {
  return async (tx) => {
    const relay = deps.uploads?.signer.kind === "relay";
    if (!(await useUpload(tx, uploadId, apiKey.id, jobId, deps.now?.() ?? new Date(), relay))) throw noSuchUpload();
  };
}

/** Two requests raced with one upload id and the other made the job first (jobs.id is the primary key). */
export function uploadAlreadyUsed(error: unknown): ApiError | null {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as { code?: unknown }).code === "23505") return noSuchUpload();
  }
  return null;
}
