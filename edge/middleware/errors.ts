import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";
import { openAiError } from "../routes/openai.js";

/** postgres.js and network errors that mean "the database is not reachable right now". */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === "string" &&
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT", "57P01", "57P03"].includes(code)
  );
}

/** SQLSTATE class 22 (data exception) on a value from the request; anywhere in the error's cause chain. */
function isInvalidValueForDatabase(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && /^22[0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}

/** Every failure leaves as `{ "error": { "code", "message" } }` with its status; nothing internal leaks. */
export function toErrorResponse(error: unknown, c: Context<AppEnv>): Response {
  let apiError: ApiError;
  if (error instanceof ApiError) {
    apiError = error;
  } else if (error instanceof HTTPException) {
    const code =
      error.status === 413 ? "payload_too_large" : error.status === 415 ? "unsupported_media_type" : error.status === 401 ? "unauthorized" : "invalid_request";
    apiError = new ApiError(code, error.message || "malformed request");
  } else if (isInvalidValueForDatabase(error)) {
    // Postgres refused a value the caller sent (a NUL byte, an out-of-range date or number): the caller's mistake.
    apiError = new ApiError("invalid_request", "a parameter holds a value out of range or with characters the API does not accept");
  } else if (isDatabaseUnavailable(error) || (error as { cause?: unknown })?.cause && isDatabaseUnavailable((error as { cause: unknown }).cause)) {
    apiError = new ApiError("service_unavailable", "the service is temporarily unavailable; retry shortly", { "Retry-After": "5" });
  } else {
    c.get("deps")?.logger.error("unhandled error", { error, path: c.req.path, requestId: c.get("requestId") });
    apiError = new ApiError("internal_error", "internal error");
  }
  // The OpenAI-compatible route answers in OpenAI's error shape, which its SDK maps to its error classes.
  const body = c.req.path.startsWith("/v1/audio/") ? openAiError(apiError) : apiError.toJSON();
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  return c.json(body, apiError.status);
}
