import type { Job, JobPhase, Transcript } from "../db/schema.js";
import { languageCode } from "../shared/languages.js";

/** The public shape of a transcription job. */
export interface JobResource {
  id: string;
  object: "transcription";
  status: Job["status"];
  /** What a processing job is doing: fetching, decoding, transcribing; null otherwise. */
  phase: JobPhase | null;
  progress: number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  duration_seconds: number | null;
  language: string | null;
  text: string | null;
  /** Completed jobs: true when the audio held no speech (text is empty, nothing billed); null until then. */
  no_speech: boolean | null;
  segments: { id: number; start: number; end: number; text: string }[] | null;
  webhook_url: string | null;
  audio: { bytes: number; content_type: string; filename: string | null; deleted: boolean };
  error: { code: string; message: string } | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function jobResource(job: Job, transcript: Transcript | null = null): JobResource {
  const detected = job.detectedLanguage ?? transcript?.language ?? null;
  return {
    id: job.id,
    object: "transcription",
    status: job.status,
    phase: job.status === "processing" ? (job.phase ?? "fetching") : null,
    progress: job.status === "completed" ? 1 : Math.round(job.progress * 1000) / 1000,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    completed_at: iso(job.completedAt),
    duration_seconds: job.durationSeconds,
    language: detected ? (languageCode(detected) ?? detected) : job.language,
    text: transcript?.text ?? null,
    no_speech: job.status === "completed" ? (job.noSpeech ?? (transcript ? transcript.text.trim() === "" : false)) : null,
    segments: transcript ? transcript.segments.map((s, i) => ({ id: i, start: s.start, end: s.end, text: s.text })) : null,
    webhook_url: job.webhookUrl,
    audio: { bytes: job.audioBytes, content_type: job.contentType, filename: job.filename, deleted: job.audioKey === null },
    error: job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? "" } : null,
  };
}
