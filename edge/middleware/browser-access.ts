import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/api-error.js";
import { originAllowed } from "../../shared/origins.js";
import type { AppEnv } from "../env.js";
import { browserTokenOwns, findLiveBrowserToken } from "../store/browser-tokens.js";

/** `Authorization: Bearer bt_…`: the token's parent key goes into the context (its limits and quota apply). */
export async function authenticateBrowserToken(c: Parameters<MiddlewareHandler<AppEnv>>[0], token: string): Promise<void> {
  const deps = c.get("deps");
  const found = await findLiveBrowserToken(deps.db, token, deps.now?.() ?? new Date());
  if (!found) {
    throw new ApiError("unauthorized", "invalid, expired or revoked browser token: ask your backend for a new one", {
      "WWW-Authenticate": 'Bearer realm="api", error="invalid_token"',
    });
  }
  c.set("apiKey", found.apiKey);
  c.set("browserToken", found.token);
}

/** What a browser token may reach; everything else in /v1 is refused (403). */
const JOB_READ = /^\/v1\/transcriptions\/([^/]+)(?:\/transcript)?$/;

/**
 * After authentication, on every /v1 route but admin. Requests from a page on another origin must come from an
 * origin allowed for their key (configured or the key's own list), and from the token's origin when it is bound
 * to one. A browser token may only upload, create jobs from its own uploads, and read the jobs it created: the
 * create handler checks the body (`checkBrowserTokenCreate`), this checks the route and job reads.
 */
export const browserAccess: MiddlewareHandler<AppEnv> = async (c, next) => {
  const deps = c.get("deps");
  const origin = c.req.header("origin");
  const token = c.get("browserToken");
  if (token?.origin && origin !== token.origin) {
    throw new ApiError("forbidden", `this browser token may only be used from ${token.origin}`);
  }
  if (origin && origin !== new URL(c.req.url).origin && !originAllowed(origin, [...deps.config.cors.origins, ...c.get("apiKey").allowedOrigins])) {
    throw new ApiError("forbidden", `requests from ${origin} are not allowed for this key`);
  }
  if (token) {
    const method = c.req.method;
    const path = c.req.path;
    const jobRead = method === "GET" ? JOB_READ.exec(path) : null;
    if (jobRead) {
      // 404, as for another key's job: a token cannot tell the key's other jobs from ids that do not exist.
      if (!(await browserTokenOwns(deps.db, token.id, decodeURIComponent(jobRead[1])))) throw new ApiError("not_found", "no such transcription");
    } else if (!(method === "POST" && (path === "/v1/uploads" || path === "/v1/transcriptions"))) {
      throw new ApiError("forbidden", "a browser token may only upload audio, create jobs from its uploads and read those jobs");
    }
  }
  await next();
};
