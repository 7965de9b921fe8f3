import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../shared/api-error.js";
import type { EdgeDeps } from "./deps.js";
import type { AppEnv } from "./env.js";
import { requireAdmin } from "./middleware/admin.js";
import { requireApiKey } from "./middleware/auth.js";
import { browserAccess } from "./middleware/browser-access.js";
import { apiCors } from "./middleware/cors.js";
import { tokenRoutes } from "./routes/tokens.js";
import { rateLimit } from "./middleware/rate-limit.js";
import { adminRoutes } from "./routes/admin.js";
import { openAiRoutes } from "./routes/openai.js";
import { usageRoutes } from "./routes/usage.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { toErrorResponse } from "./middleware/errors.js";
import { docsRoutes } from "./routes/docs.js";
import { healthRoutes } from "./routes/health.js";
import { observabilityRoutes } from "./routes/observability.js";
import { transcriptionRoutes } from "./routes/transcriptions.js";
import { uploadRelayRoutes, uploadRoutes } from "./routes/uploads.js";

/** Multipart framing around the file: headers, boundaries and the small text fields. */
const MULTIPART_OVERHEAD = 64 * 1024;
/** What Hono's validator parses as JSON: application/json and application/*+json, with any parameters. */
const JSON_MEDIA_TYPE = /^\s*application\/([\w.-]+\+)?json\s*(;|$)/i;

/** The whole API as one Hono app; Node (edge/node.ts) and Workers (edge/worker.ts) only build `deps`. */
export function createApp(deps: EdgeDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const where = issue?.path.join(".") || result.target;
        throw new ApiError("invalid_request", `${where}: ${issue?.message ?? "invalid"}`);
      }
    },
  });

  app.use("*", async (c, next) => {
    c.set("deps", deps);
    c.set("requestId", c.req.header("x-request-id") ?? crypto.randomUUID());
    // Before next() as well: on @hono/node-server a header set after the handler built its response is lost.
    c.header("X-Request-Id", c.get("requestId"));
    await next();
    c.header("X-Request-Id", c.get("requestId"));
  });
  // Before authentication and every route: preflights carry no credentials.
  app.use("*", apiCors(deps.config.cors.origins, deps.config.cors.maxAgeSeconds));
  app.onError((error, c) => toErrorResponse(error, c));
  app.notFound((c) => toErrorResponse(new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`), c));
  // Ahead of the /v1 middleware, which it must skip: an upload URL's token is its credential, and it caps the body itself.
  uploadRelayRoutes(app);

  // Admin routes take the admin token; everything else in /v1 an API key, rate-limited per key. Both come before
  // the body limits: bodyLimit reads a chunked body whole, and nobody's body is read before they are known.
  app.use("/v1/*", (c, next) => (c.req.path.startsWith("/v1/admin/") ? requireAdmin(c, next) : requireApiKey(c, next)));
  app.use("/v1/*", (c, next) => (c.req.path.startsWith("/v1/admin/") ? next() : rateLimit(c, next)));
  app.use("/v1/*", (c, next) => (c.req.path.startsWith("/v1/admin/") ? next() : browserAccess(c, next)));
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: deps.config.limits.maxUploadBytes + MULTIPART_OVERHEAD,
      onError: () => {
        throw new ApiError("file_too_large", `the request body exceeds ${deps.config.limits.maxUploadBytes} bytes of audio`);
      },
    }),
  );
  // JSON bodies (audio_url requests, admin calls) are small: cap them at maxJsonBytes, not at the upload size.
  const jsonBodyLimit = bodyLimit({
    maxSize: deps.config.limits.maxJsonBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `JSON request bodies are limited to ${deps.config.limits.maxJsonBytes} bytes`);
    },
  });
  app.use("/v1/*", (c, next) => (JSON_MEDIA_TYPE.test(c.req.header("content-type") ?? "") ? jsonBodyLimit(c, next) : next()));
  // Where the platform's multipart parser would block the event loop on a large body, parse it while it streams:
  // Hono's form validator takes the FormData it finds in bodyCache.
  if (deps.parseMultipart) {
    const parseMultipart = deps.parseMultipart;
    app.use("/v1/*", async (c, next) => {
      if (c.req.method === "POST" && /^\s*multipart\/form-data\s*;/i.test(c.req.header("content-type") ?? "")) {
        const parsed = parseMultipart(c.req.raw);
        parsed.catch(() => undefined); // a route that never reads the form must not leave an unhandled rejection
        // Hono keeps body promises in bodyCache (its own reads store `raw.formData()`), typed as the value.
        c.req.bodyCache.formData = parsed as unknown as FormData;
      }
      await next();
    });
  }

  docsRoutes(app, deps.docsAssets);
  healthRoutes(app);
  transcriptionRoutes(app);
  uploadRoutes(app);
  webhookRoutes(app);
  usageRoutes(app);
  openAiRoutes(app);
  tokenRoutes(app);
  adminRoutes(app);
  observabilityRoutes(app);
  return app;
}
