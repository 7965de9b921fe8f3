import type { Job, Transcript } from "../db/schema.js";
import { ApiError } from "../shared/api-error.js";

/**
 * How often a client should poll an unfinished job (the `Retry-After` of in-progress answers). Reads have a budget
 * of their own (rateLimits.readsPerMinute), so polling at this pace leaves room for many jobs at once.
 */
export const RECOMMENDED_POLL_SECONDS = 2;

/** Media types of the transcript route's renderings (registered types, so players and editors recognise them). */
export const TRANSCRIPT_MEDIA_TYPES = {
  txt: "text/plain; charset=utf-8",
  srt: "application/x-subrip; charset=utf-8",
  vtt: "text/vtt; charset=utf-8",
  json: "application/json",
} as const;

export type NativeTranscriptFormat = keyof typeof TRANSCRIPT_MEDIA_TYPES;

/** A job's transcript was deleted (DELETE /v1/transcriptions/{id}): its audio is gone and no transcript row is left. */
export function wasDeleted(job: Pick<Job, "audioKey">, transcript: Transcript | null): boolean {
  return job.audioKey === null && transcript === null;
}

/**
 * Why there is no transcript to download, as the error the API answers with, or null when there is one.
 * Deleted → 410 (gone for good); still running → 409 with a Retry-After to poll at; failed or canceled → 409.
 */
export function transcriptUnavailable(job: Pick<Job, "status" | "audioKey">, transcript: Transcript | null): ApiError | null {
  if (job.status === "completed" && transcript) return null;
  if (wasDeleted(job, transcript)) {
    return new ApiError("transcript_deleted", "the transcription was deleted; its audio and transcript are gone");
  }
  if (job.status === "queued" || job.status === "processing") {
    return new ApiError("transcript_not_ready", `the job is ${job.status}; poll GET /v1/transcriptions/{id} until it is completed`, {
      "Retry-After": String(RECOMMENDED_POLL_SECONDS),
    });
  }
  return new ApiError("transcript_unavailable", `the job is ${job.status}, so it has no transcript`);
}
