import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, inArray, isNotNull } from "drizzle-orm";
import { jobs, type Job } from "../../db/schema.js";
import { ApiError } from "../../shared/api-error.js";
import { AUDIO_ERROR_CODES } from "../../shared/audio-sniff.js";
import { languageName } from "../../shared/languages.js";
import { renderTranscript, type Transcript, type TranscriptFormat } from "../../shared/transcript-format.js";
import type { EdgeDeps } from "../deps.js";
import type { AppEnv } from "../env.js";
import { hashCreateRequest, withIdempotency } from "../idempotency.js";
import { jobResource } from "../resources.js";
import { findJob } from "../store/jobs.js";
import { checkSupportedLanguage, cleanFilename, createJob, parsePrompt, type CreateInput } from "./transcriptions.js";

/** A retried identical upload within this window gets the first job back instead of a second bill. */
const DEDUP_WINDOW_MS = 15 * 60_000;
const POLL_MS = 200;

const RESPONSE_FORMATS = ["json", "text", "srt", "verbose_json", "vtt"] as const;

const route = createRoute({
  method: "post",
  path: "/v1/audio/transcriptions",
  tags: ["OpenAI-compatible"],
  summary: "Transcribe a file and wait for the result (OpenAI audio.transcriptions)",
  description:
    "Same request and response shapes as OpenAI's endpoint, so the OpenAI SDK works with `baseURL` set to this " +
    "server's `/v1`. The job runs like any other; the request waits for it up to the configured time (504 after " +
    "that; a retry of the same upload waits for the same job and is not billed again). `model` is accepted and " +
    "ignored; `prompt` becomes the model's context (the system turn of Qwen3-ASR's prompt); `temperature` is ignored " +
    "(decoding is greedy).",
  request: {
    body: {
      required: false,
      content: {
        "multipart/form-data": {
          schema: z.object({
            file: z.any().optional().openapi({ type: "string", format: "binary" }),
            model: z.string().optional().openapi({ example: "qwen3-asr" }),
            language: z.string().optional(),
            prompt: z.string().optional(),
            response_format: z.string().optional().openapi({ enum: [...RESPONSE_FORMATS] }),
            temperature: z.string().optional(),
            "timestamp_granularities[]": z.union([z.string(), z.array(z.string())]).optional(),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "The transcript, as json, verbose_json (application/json) or text, srt, vtt (text/plain)",
      content: { "application/json": { schema: z.any() }, "text/plain": { schema: z.string() } },
    },
    400: { description: "Invalid request (OpenAI error shape)", content: { "application/json": { schema: z.any() } } },
  },
});

/** OpenAI's error body: { error: { message, type, param, code } }. */
export function openAiError(error: ApiError): { error: { message: string; type: string; param: string | null; code: string } } {
  const type =
    error.status === 401 ? "invalid_request_error" : error.status === 429 ? (error.code === "quota_exceeded" ? "insufficient_quota" : "rate_limit_error") : error.status >= 500 ? "server_error" : "invalid_request_error";
  const code = error.status === 401 ? "invalid_api_key" : error.code;
  const param = error.code === "missing_file" ? "file" : error.code === "invalid_language" || error.code === "unsupported_language" ? "language" : null;
  return { error: { message: error.message, type, param, code } };
}

async function findRecentDuplicate(deps: EdgeDeps, apiKeyId: string, requestHash: string): Promise<Job | null> {
  const since = new Date((deps.now?.() ?? new Date()).getTime() - DEDUP_WINDOW_MS);
  const [job] = await deps.db
    .select()
    .from(jobs)
    .where(and(eq(jobs.apiKeyId, apiKeyId), eq(jobs.requestHash, requestHash), gte(jobs.createdAt, since), inArray(jobs.status, ["queued", "processing", "completed"]),
      // A deleted job (its audio and text are gone) is no answer to a retry: the upload makes a new job.
      isNotNull(jobs.audioKey)))
    .orderBy(desc(jobs.createdAt))
    .limit(1);
  return job ?? null;
}

async function waitForJob(deps: EdgeDeps, apiKeyId: string, jobId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await findJob(deps.db, apiKeyId, jobId);
    if (!found) throw new ApiError("not_found", "the job disappeared");
    if (["completed", "failed", "canceled"].includes(found.job.status)) return found;
    if (Date.now() >= deadline) return null;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Estimated word times, spread over each segment by character length (Qwen3-ASR reports no timestamps). */
function estimateWords(segments: readonly { start: number; end: number; text: string }[]) {
  const words: { word: string; start: number; end: number }[] = [];
  for (const s of segments) {
    const parts = s.text.split(/\s+/).filter(Boolean);
    const chars = parts.reduce((n, w) => n + w.length, 0) || 1;
    let at = s.start;
    for (const w of parts) {
      const span = ((s.end - s.start) * w.length) / chars;
      words.push({ word: w, start: at, end: at + span });
      at += span;
    }
  }
  return words;
}

export function openAiRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const deps = c.get("deps");
    const apiKey = c.get("apiKey");
    if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("multipart/form-data")) {
      throw new ApiError("unsupported_media_type", "send multipart/form-data with a file");
    }
    const form = c.req.valid("form") as Record<string, unknown>;
    const file = form.file;
    if (!(file instanceof File)) throw new ApiError("missing_file", "the multipart field `file` is required");
    const format = (typeof form.response_format === "string" && form.response_format ? form.response_format : "json") as (typeof RESPONSE_FORMATS)[number];
    if (!RESPONSE_FORMATS.includes(format)) throw new ApiError("invalid_request", `response_format must be one of ${RESPONSE_FORMATS.join(", ")}`);
    const granularities = ([] as unknown[]).concat(form["timestamp_granularities[]"] ?? []).map(String);
    let language: string | null = null;
    if (typeof form.language === "string" && form.language) {
      if (!languageName(form.language.toLowerCase())) throw new ApiError("invalid_language", `language ${JSON.stringify(form.language.slice(0, 20))} is not supported (use ISO 639-1)`);
      language = checkSupportedLanguage(form.language.toLowerCase(), deps);
    }
    const prompt = parsePrompt(form.prompt);
    const input: CreateInput = { bytes: new Uint8Array(await file.arrayBuffer()), filename: cleanFilename(file.name), language, webhookUrl: null, prompt };
    const requestHash = await hashCreateRequest({ ...input, extra: { endpoint: "openai" } });

    // The OpenAI SDK retries 408/409/429/5xx without an idempotency key: a recent identical upload is the same job.
    const outcome = await withIdempotency(deps, apiKey, c.req.header("idempotency-key"), requestHash, async () => {
      const existing = await findRecentDuplicate(deps, apiKey.id, requestHash);
      const job = existing ?? (await createJob(deps, apiKey, input, requestHash));
      return { jobId: job.id, status: 202, body: jobResource(job) };
    });
    const done = await waitForJob(deps, apiKey.id, outcome.jobId, deps.config.openai.waitSeconds * 1000);
    if (!done) {
      throw new ApiError("service_unavailable", `the transcription is still running after ${deps.config.openai.waitSeconds} s; retry the same request to keep waiting for it`, {
        "Retry-After": "1",
      });
    }
    if (done.job.status !== "completed" || !done.transcript) {
      const code = done.job.errorCode ?? done.job.status;
      // The worker fails audio with the codes the Node edge refuses it with up front (the Workers edge reads only
      // headers): answer with that code and its status, as the Node edge would have.
      const audioCode = AUDIO_ERROR_CODES.find((known) => known === code);
      const answer = audioCode ?? (code === "unsupported_language" ? "undecodable_audio" : "internal_error");
      throw new ApiError(answer, `transcription ${done.job.status}: ${done.job.errorMessage ?? code}`);
    }
    const transcript: Transcript = {
      text: done.transcript.text,
      segments: done.transcript.segments,
      language: done.transcript.language,
      durationSeconds: done.job.durationSeconds ?? 0,
      words: estimateWords(done.transcript.segments),
    };
    const rendered = renderTranscript(transcript, format as TranscriptFormat, { includeWords: granularities.includes("word") });
    if (rendered.contentType === "application/json") return c.json(JSON.parse(rendered.body) as unknown, 200);
    return c.text(rendered.body, 200, { "Content-Type": rendered.contentType });
  });
}
