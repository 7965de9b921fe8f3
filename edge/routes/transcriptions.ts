import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { checkOutboundUrl, TargetRejected } from "../../shared/network-guard.js";
import { ApiError } from "../../shared/api-error.js";
import { languageCode } from "../../shared/languages.js";
import { describeLanguages, supportedLanguageCodes } from "../../shared/model-languages.js";
import { jobMessage } from "../../shared/queue.js";
import { renderTranscript, verboseJson, type TranscriptFormat } from "../../shared/transcript-format.js";
import type { ApiKey, Job } from "../../db/schema.js";
import type { EdgeDeps } from "../deps.js";
import type { AppEnv } from "../env.js";
import { jobResource } from "../resources.js";
import { RECOMMENDED_POLL_SECONDS, TRANSCRIPT_MEDIA_TYPES, transcriptUnavailable } from "../transcript-delivery.js";
import { ErrorSchema, errorResponses, JobListSchema, JobSchema, TranscriptJsonSchema } from "../schemas.js";
import { cancelAndForget, decodeCursor, encodeCursor, findJob, insertJobWithOutbox, listJobs, markOutboxSent, newJobId } from "../store/jobs.js";
import { openStoredUpload, uploadAlreadyUsed, useStoredUpload } from "../upload/direct-uploads.js";
import { fetchAudioUrl } from "../upload/fetch-audio-url.js";
import { targetRefusalMessage } from "../upload/target-refusal.js";
import { validateAudio } from "../upload/validate.js";
import { hashCreateRequest, withIdempotency } from "../idempotency.js";
import { checkQuota, reserveQuota } from "../quota.js";
import { checkBrowserTokenCreate } from "../browser-token-scope.js";
import { browserTokenOwns, grantToBrowserToken } from "../store/browser-tokens.js";

const FileField = z.any().optional().openapi({ type: "string", format: "binary", description: "The audio file (required)" });

const createTranscription = createRoute({
  method: "post",
  path: "/v1/transcriptions",
  tags: ["Transcriptions"],
  summary: "Create a transcription job",
  description:
    "Upload audio as multipart `file`, or give an `audio_url` in JSON for the server to fetch. The audio is checked " +
    "(format sniffed from its bytes, decodable, duration within limits) before anything is stored.",
  request: {
    headers: z.object({
      "idempotency-key": z
        .string()
        .max(255)
        .optional()
        .openapi({ description: "Retry safely: the same key and body within 24 h give the same job (`Idempotent-Replayed: true`); another body → 409" }),
    }),
    body: {
      // Each content type is validated only when the request uses it; the handler checks what is required.
      required: false,
      content: {
        "multipart/form-data": {
          schema: z.object({
            file: FileField,
            language: z.string().optional().openapi({ description: "ISO 639-1 code or language name; detected when omitted", example: "en" }),
            prompt: z.string().optional().openapi({ description: "Context for the model: names, terms, the topic (≤ 1000 characters)" }),
            webhook_url: z.string().optional().openapi({ example: "https://example.com/hooks/asr" }),
          }),
        },
        "application/json": {
          schema: z.object({
            audio_url: z.string().optional().openapi({ example: "https://example.com/meeting.mp3", description: "Required, unless upload_id is given" }),
            upload_id: z.string().optional().openapi({ example: "up_0k2n6bq9x1m4r7t3v5y8z0a2", description: "A file uploaded with POST /v1/uploads, instead of audio_url" }),
            language: z.string().optional(),
            prompt: z.string().optional(),
            webhook_url: z.string().optional(),
          }),
        },
      },
    },
  },
  responses: {
    202: { description: "Accepted: the job is queued", content: { "application/json": { schema: JobSchema } } },
    ...errorResponses(400, 401, 409, 413, 415, 422, 429, 503),
  },
});

const getTranscription = createRoute({
  method: "get",
  path: "/v1/transcriptions/{id}",
  tags: ["Transcriptions"],
  summary: "Get a transcription job",
  request: { params: z.object({ id: z.string() }) },
  responses: { 200: { description: "The job", content: { "application/json": { schema: JobSchema } } }, ...errorResponses(401, 404, 503) },
});

const getTranscript = createRoute({
  method: "get",
  path: "/v1/transcriptions/{id}/transcript",
  tags: ["Transcriptions"],
  summary: "Download the transcript as text, SRT, WebVTT or JSON",
  request: {
    params: z.object({ id: z.string() }),
    query: z.object({ format: z.enum(["txt", "srt", "vtt", "json"]).default("txt") }),
  },
  responses: {
    200: {
      description: "The transcript in the asked format, with that format's media type",
      content: {
        "text/plain": { schema: z.string(), example: "Set a timer for five minutes.\n" },
        "application/x-subrip": { schema: z.string(), example: "1\n00:00:00,000 --> 00:00:02,063\nSet a timer for five minutes.\n\n" },
        "text/vtt": { schema: z.string(), example: "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.063\nSet a timer for five minutes.\n\n" },
        "application/json": { schema: TranscriptJsonSchema },
      },
    },
    ...errorResponses(400, 401, 404, 503),
    409: {
      description:
        "No transcript yet (`transcript_not_ready`, with `Retry-After`: poll the job) or never (`transcript_unavailable`: the job failed or was canceled)",
      content: { "application/json": { schema: ErrorSchema, example: { error: { code: "transcript_not_ready", message: "the job is processing; poll GET /v1/transcriptions/{id} until it is completed" } } } },
    },
    410: {
      description: "The transcription was deleted (`transcript_deleted`)",
      content: { "application/json": { schema: ErrorSchema, example: { error: { code: "transcript_deleted", message: "the transcription was deleted; its audio and transcript are gone" } } } },
    },
  },
});

const listTranscriptions = createRoute({
  method: "get",
  path: "/v1/transcriptions",
  tags: ["Transcriptions"],
  summary: "List jobs, newest first",
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: z.string().optional().openapi({ description: "next_cursor of the previous page" }),
    }),
  },
  responses: { 200: { description: "A page of jobs", content: { "application/json": { schema: JobListSchema } } }, ...errorResponses(400, 401, 503) },
});

const deleteTranscription = createRoute({
  method: "delete",
  path: "/v1/transcriptions/{id}",
  tags: ["Transcriptions"],
  summary: "Cancel a job if it has not finished, and delete its audio and transcript",
  request: { params: z.object({ id: z.string() }) },
  responses: { 200: { description: "The job after deletion", content: { "application/json": { schema: JobSchema } } }, ...errorResponses(401, 404, 503) },
});

/** Sanitised display name: no path, no control characters, bounded length. Never used as a storage key. */
export function cleanFilename(name: unknown): string | null {
  if (typeof name !== "string") return null;
  // eslint-disable-next-line no-control-regex
  const base = name.split(/[\\/]/).pop()?.replace(/[\u0000-\u001f\u007f]/g, "").trim() ?? "";
  return base && base !== "." && base !== ".." ? base.slice(0, 255) : null;
}

const MAX_PROMPT_CHARS = 1000;

export interface CreateInput {
  bytes: Uint8Array;
  filename: string | null;
  language: string | null;
  webhookUrl: string | null;
  /** Context text for the model (`prompt`). */
  prompt: string | null;
  /** JSON `upload_id`: the audio is already stored (POST /v1/uploads) and `bytes` is empty. */
  uploadId?: string;
}

export interface RawCreateRequest {
  contentType: string;
  form?: Record<string, unknown>;
  json?: Record<string, unknown>;
}

/** Reads and checks the request's fields (not yet the audio): multipart upload or JSON with audio_url. */
export async function readCreateRequest(deps: EdgeDeps, raw: RawCreateRequest): Promise<CreateInput> {
  const type = raw.contentType.toLowerCase();
  let fields: { language?: unknown; webhook_url?: unknown; prompt?: unknown };
  let source: { file: unknown } | { audioUrl: string } | { uploadId: string };
  if (type.startsWith("multipart/form-data") && raw.form) {
    const form = raw.form;
    fields = form;
    source = { file: form.file };
  } else if (type.startsWith("application/json") && raw.json) {
    const json = raw.json;
    fields = json;
    if (typeof json.upload_id === "string" && json.upload_id) {
      source = { uploadId: json.upload_id };
    } else {
      if (typeof json.audio_url !== "string" || !json.audio_url) throw new ApiError("invalid_request", "audio_url is required");
      source = { audioUrl: json.audio_url };
    }
  } else {
    throw new ApiError("unsupported_media_type", "send multipart/form-data with a file, or application/json with an audio_url");
  }
  const language = parseLanguage(fields.language, deps);
  const prompt = parsePrompt(fields.prompt);
  const webhookUrl = await parseWebhookUrl(fields.webhook_url, deps.config.network.allowPrivateTargets, deps.resolveHost);
  if ("file" in source) {
    if (!(source.file instanceof File)) throw new ApiError("missing_file", "the multipart field `file` with the audio is required");
    return { bytes: new Uint8Array(await source.file.arrayBuffer()), filename: cleanFilename(source.file.name), language, webhookUrl, prompt };
  }
  if ("uploadId" in source) return { bytes: new Uint8Array(0), filename: null, language, webhookUrl, prompt, uploadId: source.uploadId };
  const fetched = await fetchAudioUrl(source.audioUrl, {
    maxBytes: deps.config.limits.maxUploadBytes,
    timeoutMs: deps.config.limits.audioUrlTimeoutMs,
    allowList: deps.config.network.allowPrivateTargets,
    resolveHost: deps.resolveHost,
    fetch: deps.fetch,
  });
  return { bytes: fetched.bytes, filename: cleanFilename(fetched.filename), language, webhookUrl, prompt };
}

/** Context for the model (names, terms, topic): optional text, at most MAX_PROMPT_CHARS characters. */
export function parsePrompt(value: unknown): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw new ApiError("invalid_request", "prompt must be a string");
  if (value.length > MAX_PROMPT_CHARS) throw new ApiError("invalid_request", `prompt is limited to ${MAX_PROMPT_CHARS} characters`);
  return value;
}

function parseLanguage(value: unknown, deps: EdgeDeps): string | null {
  if (value === undefined || value === null || value === "" || value === "auto") return null;
  if (typeof value !== "string") throw new ApiError("invalid_language", "language must be a string");
  const code = languageCode(value);
  if (!code) throw new ApiError("invalid_language", `language ${JSON.stringify(value.slice(0, 40))} is not supported`);
  return checkSupportedLanguage(code, deps);
}

/** A language Qwen3-ASR has a name for, but this model was not made for: 422 with what it does support. */
export function checkSupportedLanguage(code: string, deps: EdgeDeps): string {
  const supported = deps.supportedLanguages ?? supportedLanguageCodes(deps.config.model.languages);
  if (!supported.includes(code)) {
    throw new ApiError("unsupported_language", `the model does not support language "${code}"; supported: ${describeLanguages(supported)}`);
  }
  return code;
}

async function parseWebhookUrl(value: unknown, allowList: string[], resolve?: (host: string) => Promise<string[]>): Promise<string | null> {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string" || value.length > 2048) throw new ApiError("invalid_webhook_url", "webhook_url must be a URL of at most 2048 characters");
  try {
    return (await checkOutboundUrl(value, allowList, resolve)).toString();
  } catch (error) {
    if (error instanceof TargetRejected) throw new ApiError("invalid_webhook_url", targetRefusalMessage("webhook_url", error));
    throw error;
  }
}

/** Validates, stores the audio, records the job with its queue message, then sends the message. */
export async function createJob(deps: EdgeDeps, apiKey: ApiKey, input: CreateInput, requestHash: string | null): Promise<Job> {
  // An upload_id's audio is checked where it is stored and becomes the job's audio as it is (no copy).
  const stored = input.uploadId === undefined ? null : await openStoredUpload(deps, apiKey, input.uploadId);
  const probed = stored?.probed ?? (await validateAudio(input.bytes, deps.probeAudio, deps.config.limits));
  await checkQuota(deps, apiKey, probed.durationSeconds);
  const id = stored?.jobId ?? newJobId();
  const audioKey = stored?.audioKey ?? `audio/${apiKey.id}/${id}`;
  const audioBytes = stored?.audioBytes ?? input.bytes.length;
  if (!stored) await deps.blobs.put(audioKey, input.bytes, probed.contentType);
  let created;
  try {
    created = await insertJobWithOutbox(deps.db, {
      id,
      apiKeyId: apiKey.id,
      audioKey,
      audioBytes,
      contentType: probed.contentType,
      filename: input.filename,
      durationSeconds: probed.durationSeconds,
      language: input.language,
      prompt: input.prompt,
      webhookUrl: input.webhookUrl,
      requestHash,
    }, {
      before: reserveQuota(deps, apiKey, probed.durationSeconds),
      after: stored && input.uploadId !== undefined ? useStoredUpload(deps, apiKey, input.uploadId, id) : undefined,
    });
  } catch (error) {
    // A stored upload stays: a concurrent request with the same upload_id may have just made it its job.
    if (stored) throw uploadAlreadyUsed(error) ?? error;
    await deps.blobs.delete(audioKey).catch(() => undefined);
    throw error;
  }
  try {
    await deps.queue.send(jobMessage(id));
    await markOutboxSent(deps.db, created.outboxId);
  } catch (error) {
    // The outbox row stays unsent; the relay sends it. The job is safe in Postgres either way.
    deps.logger.warn("queue send failed; left to the outbox relay", { jobId: id, error });
  }
  deps.logger.info("job created", { jobId: id, apiKeyId: apiKey.id, bytes: audioBytes, durationSeconds: probed.durationSeconds });
  return created.job;
}

export function transcriptionRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createTranscription, async (c) => {
    const contentType = c.req.header("content-type") ?? "";
    const form = contentType.toLowerCase().startsWith("multipart/form-data") ? (c.req.valid("form") as Record<string, unknown>) : undefined;
    const json = contentType.toLowerCase().startsWith("application/json") ? (c.req.valid("json") as Record<string, unknown>) : undefined;
    const browserToken = c.get("browserToken");
    if (browserToken) await checkBrowserTokenCreate(c.get("deps").db, browserToken, form ?? json ?? {});
    const input = await readCreateRequest(c.get("deps"), { contentType, form, json });
    const deps = c.get("deps");
    const apiKey = c.get("apiKey");
    const requestHash = await hashCreateRequest({ ...input, extra: input.uploadId === undefined ? undefined : { uploadId: input.uploadId } });
    const replay = await withIdempotency(deps, apiKey, c.req.header("idempotency-key"), requestHash, async () => {
      const job = await createJob(deps, apiKey, input, requestHash);
      if (browserToken) await grantToBrowserToken(deps.db, browserToken.id, job.id);
      return { jobId: job.id, status: 202, body: jobResource(job) };
    });
    // A replay hands back the job the key first made: to a browser token, only when the token made it.
    if (replay.replayed && browserToken && !(await browserTokenOwns(deps.db, browserToken.id, replay.body.id))) {
      throw new ApiError("idempotency_key_reused", "this Idempotency-Key was used by another client of the key; use a new key");
    }
    const headers: Record<string, string> = { Location: `/v1/transcriptions/${replay.body.id}` };
    if (replay.replayed) headers["Idempotent-Replayed"] = "true";
    return c.json(replay.body, 202, headers);
  });

  app.openapi(getTranscription, async (c) => {
    const found = await findJob(c.get("deps").db, c.get("apiKey").id, c.req.valid("param").id);
    if (!found) throw new ApiError("not_found", "no such transcription");
    // The recommended poll interval while the job runs; polling faster only spends the read budget.
    const running = found.job.status === "queued" || found.job.status === "processing";
    return c.json(jobResource(found.job, found.transcript), 200, running ? { "Retry-After": String(RECOMMENDED_POLL_SECONDS) } : {});
  });

  app.openapi(getTranscript, async (c) => {
    const found = await findJob(c.get("deps").db, c.get("apiKey").id, c.req.valid("param").id);
    if (!found) throw new ApiError("not_found", "no such transcription");
    const unavailable = transcriptUnavailable(found.job, found.transcript);
    if (unavailable || !found.transcript) throw unavailable ?? new ApiError("transcript_unavailable", "no transcript");
    const format = c.req.valid("query").format;
    const transcript = {
      text: found.transcript.text,
      segments: found.transcript.segments,
      language: found.transcript.language,
      durationSeconds: found.job.durationSeconds ?? 0,
    };
    if (format === "json") {
      // The job's form of the language (ISO 639-1), not OpenAI's lowercased name: one form across this API.
      const body = verboseJson(transcript);
      const language = found.transcript.language;
      return c.json({ ...body, language: language ? (languageCode(language) ?? language.toLowerCase()) : null }, 200);
    }
    const rendered = renderTranscript(transcript, format as TranscriptFormat);
    return c.text(rendered.body, 200, { "Content-Type": TRANSCRIPT_MEDIA_TYPES[format] });
  });

  app.openapi(listTranscriptions, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor) : null;
    if (cursor && !after) throw new ApiError("invalid_cursor", "cursor is not one this API returned");
    const rows = await listJobs(c.get("deps").db, c.get("apiKey").id, limit + 1, after);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return c.json(
      { object: "list" as const, data: page.map((j) => jobResource(j)), has_more: hasMore, next_cursor: hasMore ? encodeCursor(page[page.length - 1]) : null },
      200,
    );
  });

  app.openapi(deleteTranscription, async (c) => {
    const deps = c.get("deps");
    const result = await cancelAndForget(deps.db, c.get("apiKey").id, c.req.valid("param").id);
    if (!result) throw new ApiError("not_found", "no such transcription");
    if (result.audioKey) await deps.blobs.delete(result.audioKey);
    deps.logger.info("job deleted", { jobId: result.job.id, status: result.job.status });
    return c.json(jobResource(result.job), 200);
  });
}
