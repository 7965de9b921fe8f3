import { z } from "@hono/zod-openapi";

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .openapi("Error", { example: { error: { code: "unsupported_format", message: "the file is not audio in a supported format" } } });

export const SegmentSchema = z.object({ id: z.number().int(), start: z.number(), end: z.number(), text: z.string() }).openapi("Segment");

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
    webhook_url: z.string().nullable(),
    audio: z.object({ bytes: z.number(), content_type: z.string(), filename: z.string().nullable(), deleted: z.boolean() }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
  })
  .openapi("Transcription");

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
