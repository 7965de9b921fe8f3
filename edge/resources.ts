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
  segments: { id: number; start: number; end: number; text: string; avg_logprob: number | null; no_speech_prob: number | null }[] | null;
  /**
   * How much the transcript can be trusted, from the model's own token probabilities: the geometric mean of the
   * chosen tokens' probabilities (exp of the mean log-probability), 0–1; null until completed or when unscored.
   */
  confidence: number | null;
  /** Probability the model gave the detected language; null when the language was forced or unknown. */
  language_probability: number | null;
  /** Completed with no speech found (silence, noise, music): `text` is empty. Null until completed. */
  no_speech: boolean | null;
  webhook_url: string | null;
  audio: { bytes: number; content_type: string; filename: string | null; deleted: boolean };
  error: { code: string; message: string } | null;
}

const score = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);
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
    segments: transcript
      ? transcript.segments.map((s, i) => ({ id: i, start: s.start, end: s.end, text: s.text, avg_logprob: score(s.avg_logprob), no_speech_prob: score(s.no_speech_prob) }))
      : null,
    confidence: transcript?.avgLogprob != null ? Math.round(Math.exp(transcript.avgLogprob) * 10000) / 10000 : null,
    language_probability: transcript?.languageProbability ?? null,
    no_speech: job.status === "completed" ? (job.noSpeech ?? (transcript ? transcript.text.trim() === "" : false)) : null,
    webhook_url: job.webhookUrl,
    audio: { bytes: job.audioBytes, content_type: job.contentType, filename: job.filename, deleted: job.audioKey === null },
    error: job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? "" } : null,
  };
}
