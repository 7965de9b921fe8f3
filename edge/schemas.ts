import { z } from "@hono/zod-openapi";

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .openapi("Error", { example: { error: { code: "unsupported_format", message: "the file is not audio in a supported format" } } });

export const SegmentSchema = z
  .object({
    id: z.number().int(),
    start: z.number(),
    end: z.number(),
    text: z.string(),
    avg_logprob: z.number().nullable().openapi({ description: "mean log-probability of the segment's tokens (the model's own)" }),
    no_speech_prob: z.number().nullable().openapi({ description: "the model's probability that this audio holds no speech" }),
  })
  .openapi("Segment");

export const JobSchema = z
  .object({
    id: z.string().openapi({ example: "tr_0k2n6bq9x1m4r7t3v5y8z0a2" }),
    object: z.literal("transcription"),
    status: z.enum(["queued", "processing", "completed", "failed", "canceled"]),
    phase: z.enum(["fetching", "decoding", "transcribing"]).nullable().openapi({
      description: "What a processing job is doing now; null unless status is processing",
    }),
    progress: z.number().min(0).max(1).openapi({ description: "Overall fraction done, across the phases; never decreases" }),
    created_at: z.string(),
    updated_at: z.string(),
    completed_at: z.string().nullable(),
    duration_seconds: z.number().nullable(),
    language: z.string().nullable().openapi({ description: "ISO 639-1 code, as requested or detected" }),
    text: z.string().nullable(),
    no_speech: z.boolean().nullable().openapi({
      description: "Completed jobs: true when the audio held no speech (text is empty and nothing is billed); null before",
    }),
    segments: z.array(SegmentSchema).nullable(),
    confidence: z.number().min(0).max(1).nullable().openapi({ description: "geometric mean of the chosen tokens' probabilities; null until completed" }),
    language_probability: z.number().min(0).max(1).nullable().openapi({ description: "the model's probability of the detected language" }),
    webhook_url: z.string().nullable(),
    audio: z.object({ bytes: z.number(), content_type: z.string(), filename: z.string().nullable(), deleted: z.boolean() }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .openapi("Transcription", {
    example: {
      id: "tr_0k2n6bq9x1m4r7t3v5y8z0a2",
      object: "transcription",
      status: "completed",
      progress: 1,
      created_at: "2026-12-07T21:00:00.000Z",
      updated_at: "2026-12-07T21:00:03.120Z",
      completed_at: "2026-12-07T21:00:03.120Z",
      duration_seconds: 2.063,
      language: "en",
      text: "Set a timer for five minutes.",
      segments: [{ id: 0, start: 0, end: 2.063, text: "Set a timer for five minutes." }],
      webhook_url: null,
      audio: { bytes: 66060, content_type: "audio/wav", filename: "speech.wav", deleted: false },
      error: null,
    },
  });

/** GET /v1/transcriptions/{id}/transcript?format=json: segments with times, and the job's language code. */
export const TranscriptJsonSchema = z
  .object({
    task: z.literal("transcribe"),
    language: z.string().nullable().openapi({ description: "ISO 639-1 code, the same form as the job's `language`", example: "en" }),
    duration: z.number().openapi({ description: "Seconds of audio", example: 2.063 }),
    text: z.string().openapi({ example: "Set a timer for five minutes." }),
    segments: z.array(
      z.object({
        id: z.number().int(),
        seek: z.number().int(),
        start: z.number(),
        end: z.number(),
        text: z.string(),
        tokens: z.array(z.number().int()),
        temperature: z.number(),
        avg_logprob: z.number(),
        compression_ratio: z.number(),
        no_speech_prob: z.number(),
      }),
    ),
  })
  .openapi("TranscriptJson", {
    description: "OpenAI's verbose_json shape; Whisper's per-segment statistics are neutral values (Qwen3-ASR reports none)",
  });

export const JobListSchema = z
  .object({ object: z.literal("list"), data: z.array(JobSchema), has_more: z.boolean(), next_cursor: z.string().nullable() })
  .openapi("TranscriptionList");

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s] ?? "Error", content: { "application/json": { schema: ErrorSchema } } }]),
  );

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed request",
  401: "Missing or invalid API key",
  404: "No such transcription for this key",
  409: "Conflict",
  413: "Upload too large",
  415: "Not a supported audio format",
  422: "Audio that cannot be transcribed (undecodable, too short or too long)",
  429: "Rate limit or quota exceeded",
  503: "Temporarily unavailable; retry after the Retry-After delay",
};
