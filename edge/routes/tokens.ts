import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/api-error.js";
import { canonicalOrigin, originAllowed } from "../../shared/origins.js";
import type { BrowserToken } from "../../db/schema.js";
import type { AppEnv } from "../env.js";
import { errorResponses } from "../schemas.js";
import { mintBrowserToken, revokeBrowserToken } from "../store/browser-tokens.js";

/** What a browser token may do, listed in the response so a backend can show or log it. */
export const BROWSER_TOKEN_SCOPE = ["uploads:create", "transcriptions:create", "transcriptions:read"] as const;

const BrowserTokenSchema = z
  .object({
    object: z.literal("browser_token"),
    id: z.string().openapi({ example: "btk_0k2n6bq9x1m4r7t3v5y8z0a2", description: "Revoke with DELETE /v1/tokens/{id}" }),
    origin: z.string().nullable().openapi({ description: "The only origin the token works from; null: any origin allowed for the key" }),
    expires_at: z.string(),
    revoked_at: z.string().nullable(),
    scope: z.array(z.enum(BROWSER_TOKEN_SCOPE)),
  })
  .openapi("BrowserToken");

const createToken = createRoute({
  method: "post",
  path: "/v1/tokens",
  tags: ["Browser tokens"],
  summary: "Mint a short-lived token for a web page",
  description:
    "Call from your backend with the secret key and hand `token` to the page. The token can upload audio " +
    "(POST /v1/uploads or a multipart POST /v1/transcriptions), create jobs from its own uploads and read those jobs and " +
    "their transcripts — nothing else: not the key's other jobs, not other tokens, not admin routes. Its requests " +
    "count against the key's rate limit and quota.",
  request: {
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.object({
            expires_in: z.number().int().positive().optional().openapi({ description: "Lifetime in seconds (default and maximum from the configuration)", example: 600 }),
            origin: z.string().optional().openapi({ description: "Bind the token to this origin (one allowed for the key)", example: "https://app.example.com" }),
          }),
        },
      },
    },
  },
  responses: {
    201: { description: "The token, shown only here", content: { "application/json": { schema: BrowserTokenSchema.extend({ token: z.string() }) } } },
    ...errorResponses(400, 401, 403, 429, 503),
  },
});

const revokeToken = createRoute({
  method: "delete",
  path: "/v1/tokens/{id}",
  tags: ["Browser tokens"],
  summary: "Revoke a browser token",
  request: { params: z.object({ id: z.string() }) },
  responses: { 200: { description: "The revoked token", content: { "application/json": { schema: BrowserTokenSchema } } }, ...errorResponses(401, 403, 404, 503) },
});

const tokenView = (t: BrowserToken) => ({
  object: "browser_token" as const,
  id: t.id,
  origin: t.origin,
  expires_at: t.expiresAt.toISOString(),
  revoked_at: t.revokedAt?.toISOString() ?? null,
  scope: [...BROWSER_TOKEN_SCOPE],
});

/** POST /v1/tokens and DELETE /v1/tokens/{id}; browser tokens themselves are refused by `browserAccess`. */
export function tokenRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createToken, async (c) => {
    const deps = c.get("deps");
    const apiKey = c.get("apiKey");
    const body = (c.req.valid("json") ?? {}) as { expires_in?: number; origin?: string };
    const { ttlSeconds, maxTtlSeconds } = deps.config.browserTokens;
    const lifetime = body.expires_in ?? Math.min(ttlSeconds, maxTtlSeconds);
    if (lifetime > maxTtlSeconds) throw new ApiError("invalid_request", `expires_in: at most ${maxTtlSeconds} seconds`);
    let origin: string | null = null;
    if (body.origin !== undefined) {
      origin = canonicalOrigin(body.origin);
      if (!origin) throw new ApiError("invalid_request", "origin: an origin is scheme://host[:port], without a path");
      if (!originAllowed(origin, [...deps.config.cors.origins, ...apiKey.allowedOrigins])) {
        throw new ApiError("invalid_request", `origin: ${origin} is not allowed for this key (CORS_ORIGINS or the key's allowed_origins)`);
      }
    }
    const now = deps.now?.() ?? new Date();
    const { token, record } = await mintBrowserToken(deps.db, apiKey.id, { origin, expiresAt: new Date(now.getTime() + lifetime * 1000) });
    deps.logger.info("browser token minted", { apiKeyId: apiKey.id, tokenId: record.id, origin, expiresAt: record.expiresAt.toISOString() });
    return c.json({ ...tokenView(record), token }, 201);
  });

  app.openapi(revokeToken, async (c) => {
    const deps = c.get("deps");
    const record = await revokeBrowserToken(deps.db, c.get("apiKey").id, c.req.valid("param").id);
    if (!record) throw new ApiError("not_found", "no such token");
    deps.logger.info("browser token revoked", { tokenId: record.id });
    return c.json(tokenView(record), 200);
  });
}
