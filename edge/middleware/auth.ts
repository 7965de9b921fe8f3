import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";
import { findActiveApiKey } from "../store/api-keys.js";
import { isBrowserToken } from "../store/browser-tokens.js";
import { authenticateBrowserToken } from "./browser-access.js";

/** `Authorization: Bearer <key>` on every /v1 route; the key's record goes into the context. */
export const requireApiKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new ApiError("unauthorized", "missing API key: send Authorization: Bearer <key>", { "WWW-Authenticate": 'Bearer realm="api"' });
  }
  if (isBrowserToken(match[1])) {
    await authenticateBrowserToken(c, match[1]);
    return next();
  }
  const key = await findActiveApiKey(c.get("deps").db, match[1]);
  if (!key) throw new ApiError("unauthorized", "invalid or revoked API key", { "WWW-Authenticate": 'Bearer realm="api", error="invalid_token"' });
  c.set("apiKey", key);
  await next();
};
