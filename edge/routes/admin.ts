import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";
import { errorResponses } from "../schemas.js";
import { apiKeyView, listApiKeys, revokeApiKey, updateApiKeyLimits } from "../store/api-key-admin.js";
import { createApiKey } from "../store/api-keys.js";
import { canonicalOrigin } from "../../shared/origins.js";

const canonicalOrigins = (origins: string[]): string[] => [...new Set(origins.map((o) => canonicalOrigin(o) ?? o))];

const KeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
    rate_limit_per_minute: z.number().int().nullable(),
    monthly_audio_seconds_quota: z.number().int().nullable(),
    allowed_origins: z.array(z.string()).openapi({ description: "Origins whose pages may use this key's browser tokens, besides CORS_ORIGINS" }),
  })
  .openapi("ApiKey");

const Limits = {
  rate_limit_per_minute: z.number().int().positive().nullable().optional().openapi({ description: "null: the service default" }),
  monthly_audio_seconds_quota: z.number().int().nonnegative().nullable().optional(),
  allowed_origins: z
    .array(z.string().refine((o) => canonicalOrigin(o) !== null, { message: "an origin is scheme://host[:port], without a path" }))
    .max(50)
    .optional()
    .openapi({ example: ["https://app.example.com"] }),
};
const uuid = z.object({ id: z.string().uuid() });

const createKey = createRoute({
  method: "post",
  path: "/v1/admin/keys",
  tags: ["Admin"],
  summary: "Create an API key (shown once)",
  request: { body: { required: true, content: { "application/json": { schema: z.object({ name: z.string().min(1).max(200), ...Limits }) } } } },
  responses: {
    201: {
      description: "The key. `key` and `webhook_secret` are shown only here.",
      content: { "application/json": { schema: KeySchema.extend({ key: z.string(), webhook_secret: z.string() }) } },
    },
    ...errorResponses(400, 401),
  },
});
const listKeys = createRoute({
  method: "get",
  path: "/v1/admin/keys",
  tags: ["Admin"],
  summary: "List API keys",
  responses: { 200: { description: "Keys", content: { "application/json": { schema: z.object({ data: z.array(KeySchema) }) } } }, ...errorResponses(401) },
});
const patchKey = createRoute({
  method: "patch",
  path: "/v1/admin/keys/{id}",
  tags: ["Admin"],
  summary: "Change a key's rate limit, monthly quota or allowed browser origins",
  request: { params: uuid, body: { required: true, content: { "application/json": { schema: z.object(Limits) } } } },
  responses: { 200: { description: "The key", content: { "application/json": { schema: KeySchema } } }, ...errorResponses(400, 401, 404) },
});
const revokeKey = createRoute({
  method: "delete",
  path: "/v1/admin/keys/{id}",
  tags: ["Admin"],
  summary: "Revoke an API key",
  request: { params: uuid },
  responses: { 200: { description: "The revoked key", content: { "application/json": { schema: KeySchema } } }, ...errorResponses(401, 404) },
});

export function adminRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createKey, async (c) => {
    const body = c.req.valid("json");
    const { key, record } = await createApiKey(c.get("deps").db, {
      name: body.name,
      rateLimitPerMinute: body.rate_limit_per_minute ?? null,
      monthlyAudioSecondsQuota: body.monthly_audio_seconds_quota ?? null,
      allowedOrigins: canonicalOrigins(body.allowed_origins ?? []),
    });
    c.get("deps").logger.info("api key created", { apiKeyId: record.id, name: record.name });
    return c.json({ ...apiKeyView(record), key, webhook_secret: record.webhookSecret }, 201);
  });
  app.openapi(listKeys, async (c) => c.json({ data: (await listApiKeys(c.get("deps").db)).map(apiKeyView) }, 200));
  app.openapi(patchKey, async (c) => {
    const body = c.req.valid("json");
    const row = await updateApiKeyLimits(c.get("deps").db, c.req.valid("param").id, {
      ...(body.rate_limit_per_minute !== undefined ? { rateLimitPerMinute: body.rate_limit_per_minute } : {}),
      ...(body.monthly_audio_seconds_quota !== undefined ? { monthlyAudioSecondsQuota: body.monthly_audio_seconds_quota } : {}),
      ...(body.allowed_origins !== undefined ? { allowedOrigins: canonicalOrigins(body.allowed_origins) } : {}),
    });
    if (!row) throw new ApiError("not_found", "no such key");
    return c.json(apiKeyView(row), 200);
  });
  app.openapi(revokeKey, async (c) => {
    const row = await revokeApiKey(c.get("deps").db, c.req.valid("param").id);
    if (!row) throw new ApiError("not_found", "no such key");
    c.get("deps").logger.info("api key revoked", { apiKeyId: row.id });
    return c.json(apiKeyView(row), 200);
  });
}
