/**
 * What the route declarations leave out of the OpenAPI document, added in one place so /docs reads well: tags in
 * a reader's order with descriptions, the internal upload relay after the routes people call, an example for
 * every request body, error answers whose examples and descriptions fit the route, and the rate-limit answer
 * (429 with its headers) on every route that takes an API key. Pure: document in, document out.
 */

type Json = Record<string, unknown>;
interface Operation {
  tags?: string[];
  security?: unknown[];
  requestBody?: { content?: Record<string, Json>; required?: boolean; description?: string };
  responses?: Record<string, { description?: string; content?: Record<string, Json>; headers?: Json }>;
  [key: string]: unknown;
}
type PathItem = Record<string, Operation>;
export interface OpenApiDocument {
  paths?: Record<string, PathItem>;
  tags?: { name: string; description?: string }[];
  [key: string]: unknown;
}

/** Tags in the order a new user needs them. */
export const TAGS: { name: string; description: string }[] = [
  { name: "Transcriptions", description: "Create a job from a file or a URL, poll it (`Retry-After` says how often), download the transcript." },
  { name: "Uploads", description: "Files larger than one request may be: get an upload URL, `PUT` the file, create the job from its `upload_id`." },
  { name: "Browser tokens", description: "Short-lived tokens a web page uses instead of the API key (minted by your backend with `POST /v1/tokens`)." },
  { name: "Webhooks", description: "Signed `transcription.completed` / `transcription.failed` events (Standard Webhooks), their attempts and redelivery." },
  { name: "Billing", description: "Billed audio seconds per day." },
  { name: "OpenAI-compatible", description: "`POST /v1/audio/transcriptions` for the OpenAI SDKs: waits for the job and answers in OpenAI's shapes." },
  { name: "Operations", description: "Health checks for load balancers and orchestrators." },
  { name: "Admin", description: "API keys and tuning recommendations; needs the admin token, not an API key." },
];

/** Routes users never call themselves: listed after the others of their tag. */
const INTERNAL = new Set(["put /v1/uploads/{id}"]);

/** An example error per status, for routes that do not say more. */
const ERROR_EXAMPLES: Record<string, [code: string, message: string]> = {
  "400": ["invalid_request", "audio_url is required"],
  "401": ["unauthorized", "invalid or revoked API key"],
  "403": ["forbidden", "the upload URL is invalid or has expired; ask POST /v1/uploads for a new one"],
  "404": ["not_found", "no such transcription"],
  "409": ["idempotency_key_reused", "this Idempotency-Key was used with another request body"],
  "410": ["transcript_deleted", "the transcription was deleted; its audio and transcript are gone"],
  "413": ["file_too_large", "the request body exceeds 100000000 bytes of audio"],
  "415": ["unsupported_format", "the file is not audio in a supported format"],
  "422": ["audio_too_long", "the audio lasts 15000 s; the limit is 14400 s"],
  "429": ["rate_limited", "rate limit of 60 requests per minute exceeded; retry in 12 s"],
  "503": ["service_unavailable", "the service is temporarily unavailable; retry shortly"],
};

/** Route-specific error descriptions and examples (method + path, status). */
const ROUTE_ERRORS: Record<string, Record<string, { description: string; example?: [string, string] }>> = {
  "post /v1/uploads": { "404": { description: "Direct uploads are not enabled on this server", example: ["not_found", "direct uploads are not enabled on this server; send the file with POST /v1/transcriptions"] } },
  "post /v1/transcriptions": {
    "404": { description: "No such upload (`upload_id`)", example: ["not_found", "no such upload: upload ids are single-use, belong to the key that created them, and need the file PUT first"] },
    "409": { description: "The Idempotency-Key was used with another body, or is in use by a request still running" },
    "429": { description: "Rate limit (`rate_limited`) or monthly audio quota (`quota_exceeded`) exceeded; see `Retry-After`" },
  },
  "put /v1/uploads/{id}": {
    "403": { description: "The token in the URL is wrong or has expired" },
    "404": { description: "Direct uploads go straight to the bucket on this server", example: ["not_found", "uploads go straight to the bucket on this server"] },
    "413": { description: "The file is larger than the upload's max_bytes", example: ["file_too_large", "the upload is 3000000000 bytes; at most 2147483648 are accepted"] },
  },
  "post /v1/transcriptions/{id}/webhooks/redeliver": { "409": { description: "The job has no webhook events to deliver", example: ["not_cancelable", "this job has no webhook events to deliver"] } },
  "patch /v1/admin/keys/{id}": { "404": { description: "No such API key", example: ["not_found", "no such API key"] } },
  "delete /v1/admin/keys/{id}": { "404": { description: "No such API key", example: ["not_found", "no such API key"] } },
};

const ADMIN_401 = { description: "Missing or wrong admin token", example: ["unauthorized", "admin token required"] as [string, string] };

/** Request body examples by route and media type. */
const BODY_EXAMPLES: Record<string, Record<string, Json>> = {
  "post /v1/transcriptions": {
    "multipart/form-data": { language: "en", prompt: "Names: Kenobi, Skywalker", webhook_url: "https://example.com/hooks/asr" },
    "application/json": { audio_url: "https://example.com/meeting.mp3", language: "en", webhook_url: "https://example.com/hooks/asr" },
  },
  "post /v1/tokens": {
    "application/json": { expires_in: 600, origin: "https://app.example.com" },
  },
  "post /v1/audio/transcriptions": {
    "multipart/form-data": { model: "qwen3-asr", language: "en", response_format: "verbose_json", "timestamp_granularities[]": "word" },
  },
  "post /v1/admin/keys": { "application/json": { name: "Acme Inc.", rate_limit_per_minute: 120, monthly_audio_seconds_quota: 360000 } },
  "patch /v1/admin/keys/{id}": { "application/json": { rate_limit_per_minute: 300, monthly_audio_seconds_quota: null } },
};

/** Descriptions of request bodies the declarations leave bare, or have none of. */
const BODY_DESCRIPTIONS: Record<string, string> = {
  "post /v1/transcriptions":
    "Either `multipart/form-data` with the audio as `file`, or `application/json` with an `audio_url` for the server to fetch (or the `upload_id` of a direct upload). " +
    "Formats: WAV, FLAC, MP3, Ogg (Opus, Vorbis), M4A (AAC), WebM (Opus); up to 4 hours.",
  "post /v1/audio/transcriptions": "OpenAI's multipart request: `file` is required, `response_format` one of json, text, srt, vtt, verbose_json.",
};

/** Declared in code, but without the body the route reads itself (it streams it to storage). */
const RELAY_BODY = {
  required: true,
  description: "The file's bytes, as they are (any audio format the API accepts).",
  content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
};

const RATE_LIMIT_HEADERS = {
  "Retry-After": { description: "Seconds until the budget refills", schema: { type: "integer" } },
  RateLimit: { description: 'IETF RateLimit fields of the budget the request counted against, e.g. `"minute";r=0;t=12`', schema: { type: "string" } },
  "RateLimit-Policy": { description: 'The budget: `"minute";q=60;w=60` (writes) or `"reads";q=600;w=60` (GET, HEAD)', schema: { type: "string" } },
};

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const errorContent = (code: string, message: string) => ({
  "application/json": { schema: { $ref: "#/components/schemas/Error" }, example: { error: { code, message } } },
});

export function completeOpenApiDocument<T extends { paths?: object }>(doc: T): T {
  // The generator's types (openapi3-ts) are stricter than this walk needs; it reads them as plain JSON.
  const paths = (doc.paths ?? {}) as Record<string, PathItem>;
  const tagOrder = (item: PathItem, path: string): number => {
    const [method, op] = Object.entries(item).find(([m]) => METHODS.includes(m)) ?? [];
    const tag = op?.tags?.[0];
    const index = TAGS.findIndex((t) => t.name === tag);
    return (index < 0 ? TAGS.length : index) * 2 + (method && INTERNAL.has(`${method} ${path}`) ? 1 : 0);
  };
  // Stable sort: within a tag the routes keep the order they were declared in.
  const ordered = Object.entries(paths)
    .map(([path, item], i) => ({ path, item, key: tagOrder(item, path), i }))
    .sort((a, b) => a.key - b.key || a.i - b.i);

  const completedPaths: Record<string, PathItem> = {};
  for (const { path, item } of ordered) {
    const completed: PathItem = {};
    for (const [method, value] of Object.entries(item)) {
      if (!METHODS.includes(method)) {
        completed[method] = value;
        continue;
      }
      completed[method] = completeOperation(`${method} ${path}`, path, value);
    }
    completedPaths[path] = completed;
  }
  return { ...doc, tags: TAGS, paths: completedPaths };
}

function completeOperation(route: string, path: string, op: Operation): Operation {
  const out: Operation = { ...op, responses: { ...(op.responses ?? {}) } };
  const responses = out.responses!;
  const isAdmin = path.startsWith("/v1/admin/");
  const takesApiKey = path.startsWith("/v1/") && !isAdmin && !INTERNAL.has(route);
  if (takesApiKey) {
    responses["401"] ??= { description: "Missing or invalid API key" };
    responses["429"] ??= { description: "Rate limit exceeded; see `Retry-After`" };
    responses["429"] = { ...responses["429"], headers: RATE_LIMIT_HEADERS };
  }
  // A status a route answers with but does not declare (POST /v1/transcriptions: 404 for an unknown upload_id).
  for (const status of Object.keys(ROUTE_ERRORS[route] ?? {})) responses[status] ??= {};
  for (const [status, response] of Object.entries(responses)) {
    const generic = ERROR_EXAMPLES[status];
    if (!generic) continue;
    // The OpenAI-compatible route answers errors in OpenAI's shape: its own declaration stands.
    if (route === "post /v1/audio/transcriptions") continue;
    const special = ROUTE_ERRORS[route]?.[status] ?? (isAdmin && status === "401" ? ADMIN_401 : undefined);
    const current = response.content?.["application/json"];
    const hasOwnExample = current !== undefined && "example" in current;
    const [code, message] = special?.example ?? generic;
    responses[status] = {
      ...response,
      description: special?.description ?? response.description ?? "Error",
      content: hasOwnExample && !special?.example ? response.content : errorContent(code, message),
    };
  }
  if (route === "get /v1/transcriptions/{id}" && responses["200"]) {
    responses["200"] = {
      ...responses["200"],
      headers: { "Retry-After": { description: "While the job is queued or processing: seconds to wait before polling again (2)", schema: { type: "integer" } } },
    };
  }
  if (route === "put /v1/uploads/{id}" && !op.requestBody) out.requestBody = RELAY_BODY;
  if (out.requestBody?.content) {
    const content: Record<string, Json> = {};
    for (const [type, media] of Object.entries(out.requestBody.content)) {
      const example = BODY_EXAMPLES[route]?.[type];
      content[type] = example && !("example" in media) ? { ...media, example } : media;
    }
    out.requestBody = { ...out.requestBody, content, description: out.requestBody.description ?? BODY_DESCRIPTIONS[route] };
  }
  return out;
}
