import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";

/** Constant-time string comparison, so the admin token cannot be guessed byte by byte from timings. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** /v1/admin/* needs `Authorization: Bearer <ADMIN_TOKEN>`; without a configured token the admin API does not exist. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = c.get("deps").adminToken;
  if (!token) throw new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
  if (!match || !sameSecret(match[1], token)) throw new ApiError("unauthorized", "admin token required", { "WWW-Authenticate": 'Bearer realm="admin"' });
  await next();
};
