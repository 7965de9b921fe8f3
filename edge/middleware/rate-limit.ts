import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";
import { countRequest } from "../store/limits.js";

const WINDOW_SECONDS = 60;

/**
 * Requests per minute per key, in fixed windows counted in Postgres (shared by every isolate and process).
 * Every answer carries the IETF RateLimit fields and the older RateLimit-Limit/-Remaining/-Reset trio; past the
 * limit the answer is 429 with Retry-After.
 */
export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { db, config, now } = c.get("deps");
  const key = c.get("apiKey");
  const limit = key.rateLimitPerMinute ?? config.rateLimits.requestsPerMinute;
  const at = now?.() ?? new Date();
  const windowStart = new Date(Math.floor(at.getTime() / (WINDOW_SECONDS * 1000)) * WINDOW_SECONDS * 1000);
  const count = await countRequest(db, key.id, windowStart);
  const reset = Math.max(1, Math.ceil((windowStart.getTime() + WINDOW_SECONDS * 1000 - at.getTime()) / 1000));
  const remaining = Math.max(0, limit - count);
  const headers = {
    "RateLimit-Policy": `"minute";q=${limit};w=${WINDOW_SECONDS}`,
    RateLimit: `"minute";r=${remaining};t=${reset}`,
    "RateLimit-Limit": String(limit),
    "RateLimit-Remaining": String(remaining),
    "RateLimit-Reset": String(reset),
  };
  if (count > limit) {
    throw new ApiError("rate_limited", `rate limit of ${limit} requests per minute exceeded; retry in ${reset} s`, { ...headers, "Retry-After": String(reset) });
  }
  // Set before the handler runs, so the response it builds carries them: @hono/node-server writes a response
  // built by c.json()/c.text() from the headers it was made with, and drops headers set on c.res afterwards.
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  await next();
  for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
};
