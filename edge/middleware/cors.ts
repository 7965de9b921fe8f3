import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { originAllowed } from "../../shared/origins.js";
import type { AppEnv } from "../env.js";
import { anyKeyAllowsOrigin } from "../store/browser-tokens.js";

/** What a page may send: the credential, the body's type, and the headers the API reads. */
export const CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"];

/** What a page may read besides the CORS-safelisted headers: limits, retries, replays, tracing, the new job's URL. */
export const CORS_EXPOSED_HEADERS = [
  "RateLimit",
  "RateLimit-Policy",
  "RateLimit-Limit",
  "RateLimit-Remaining",
  "RateLimit-Reset",
  "Retry-After",
  "Idempotent-Replayed",
  "X-Request-Id",
  "Location",
];

/**
 * Hono's CORS middleware ahead of everything else, so a preflight (which carries no credentials) is answered
 * before authentication. An origin is allowed when the configuration lists it (CORS_ORIGINS) or any live key
 * does (a preflight cannot tell which key will follow); the request itself is then held to its own key's list
 * by `browserAccess`. Credentials are never allowed: the API takes bearer tokens, not cookies, so "*" is safe.
 */
export function apiCors(globalOrigins: readonly string[], maxAgeSeconds: number): MiddlewareHandler<AppEnv> {
  const wildcard = globalOrigins.includes("*");
  return cors({
    origin: async (origin, c) => {
      if (wildcard) return "*";
      // No Origin, or the API's own pages (same origin): nothing to allow, and no key lookup.
      if (!origin || origin === new URL(c.req.url).origin) return null;
      if (originAllowed(origin, globalOrigins)) return origin;
      return (await anyKeyAllowsOrigin(c.get("deps").db, origin)) ? origin : null;
    },
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowHeaders: CORS_ALLOWED_HEADERS,
    exposeHeaders: CORS_EXPOSED_HEADERS,
    maxAge: maxAgeSeconds,
    credentials: false,
  });
}
