import type { OpenAPIHono } from "@hono/zod-openapi";
import { swaggerUI } from "@hono/swagger-ui";
import type { DocsAssets } from "../deps.js";
import type { AppEnv } from "../env.js";
import { completeOpenApiDocument } from "../openapi-complete.js";

/** The swagger-ui-dist release the page loads from a CDN where this server has no copy (Workers). */
export const SWAGGER_UI_VERSION = "5.36.0";
/** Where /docs loads Swagger UI's script and stylesheet from when the server has them (Node). */
export const DOCS_ASSET_PREFIX = "/docs/assets";

const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "Qwen3-ASR transcription API",
    version: "1.0.0",
    description:
      "Asynchronous speech-to-text jobs, an OpenAI-compatible endpoint, usage and webhooks.\n\n" +
      "Every `/v1` route needs `Authorization: Bearer <key>` (the **Authorize** button). Errors are " +
      '`{ "error": { "code", "message" } }` with a matching status. Rate limits per key: 60 requests a minute for ' +
      "writes, 600 for reads (GET); every answer carries `RateLimit` and `RateLimit-Policy`, a 429 `Retry-After`. " +
      "Poll an unfinished job at its `Retry-After` (2 s).",
  },
  security: [{ bearer: [] }],
};

/** The OpenAPI document generated from the route declarations and completed for readers, and Swagger UI over it. */
export function docsRoutes(app: OpenAPIHono<AppEnv>, assets?: DocsAssets): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "API key (sk_live_…)" });
  // Generated per request (cheap) so it lists the routes registered after this one too.
  app.get("/openapi.json", (c) => c.json(completeOpenApiDocument(app.getOpenAPI31Document(DOCUMENT_CONFIG))));
  app.get(
    "/docs",
    swaggerUI({
      url: "/openapi.json",
      title: "Qwen3-ASR API reference",
      // Local copies make the page work offline; without them (Workers) the pinned release comes from jsDelivr.
      ...(assets ? { baseUrl: DOCS_ASSET_PREFIX } : { version: SWAGGER_UI_VERSION }),
      docExpansion: "list",
      defaultModelsExpandDepth: 0,
      persistAuthorization: true,
      displayRequestDuration: true,
      // No badge from validator.swagger.io: the page makes no request beyond this server.
      validatorUrl: "none",
    }),
  );
  if (!assets) return;
  app.get(`${DOCS_ASSET_PREFIX}/swagger-ui-dist/:name`, async (c) => {
    const asset = await assets(c.req.param("name"));
    if (!asset) return c.json({ error: { code: "not_found", message: "no such asset" } }, 404);
    return c.body(asset.body, 200, { "content-type": asset.type, "cache-control": "public, max-age=86400", "x-content-type-options": "nosniff" });
  });
}
