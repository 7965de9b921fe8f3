import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";
import { countRequest, type RequestKind } from "../store/limits.js";

const WINDOW_SECONDS = 60;

/** GET and HEAD are reads: polling a job or listing jobs must not use up the budget for creating them. */
export const requestKind = (method: string): RequestKind => (method === "GET" || method === "HEAD" ? "read" : "write");

/**
 * Requests per minute per key, in fixed windows counted in Postgres (shared by every isolate and process), in two
 * budgets: reads (rateLimits.readsPerMinute, never below the key's own limit) and the rest (the key's
 * rate_limit_per_minute, else rateLimits.requestsPerMinute). Every answer carries the IETF RateLimit fields and
 * the older RateLimit-Limit/-Remaining/-Reset trio of the budget it counted against, named "reads" or "minute";
 * past the limit the answer is 429 with Retry-After.
 */
export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { db, config, now } = c.get("deps");
  const key = c.get("apiKey");
  const kind = requestKind(c.req.method);
  const writeLimit = key.rateLimitPerMinute ?? config.rateLimits.requestsPerMinute;
  const limit = kind === "read" ? Math.max(config.rateLimits.readsPerMinute, writeLimit) : writeLimit;
  const policy = kind === "read" ? "reads" : "minute";
  const at = now?.() ?? new Date();
  const windowStart = new Date(Math.floor(at.getTime() / (WINDOW_SECONDS * 1000)) * WINDOW_SECONDS * 1000);
  const count = await countRequest(db, key.id, windowStart, kind);
  const reset = Math.max(1, Math.ceil((windowStart.getTime() + WINDOW_SECONDS * 1000 - at.getTime()) / 1000));
  const remaining = Math.max(0, limit - count);
  const headers = {
    "RateLimit-Policy": `"${policy}";q=${limit};w=${WINDOW_SECONDS}`,
    RateLimit: `"${policy}";r=${remaining};t=${reset}`,
    "RateLimit-Limit": String(limit),
    "RateLimit-Remaining": String(remaining),
    "RateLimit-Reset": String(reset),
  };
  if (count > limit) {
    const what = kind === "read" ? "read requests (GET)" : "requests";
    throw new ApiError("rate_limited", `rate limit of ${limit} ${what} per minute exceeded; retry in ${reset} s`, { ...headers, "Retry-After": String(reset) });
  }
  // Set on the context before the handler runs, so whatever response it builds (error answers included) carries
  // them: headers set on c.res after next() did not reach a real socket on @hono/node-server.
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  await next();
};
