import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";
import { errorResponses } from "../schemas.js";
import { findJob } from "../store/jobs.js";
import { deliveriesOf, redeliver } from "../store/webhooks.js";

const Attempt = z.object({ attempted_at: z.string(), status_code: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number().int() });
const Delivery = z
  .object({
    id: z.string(),
    event_type: z.string(),
    webhook_id: z.string(),
    url: z.string(),
    status: z.enum(["pending", "delivering", "succeeded", "failed", "gave_up"]),
    attempts: z.array(Attempt),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("WebhookDelivery");

const listDeliveries = createRoute({
  method: "get",
  path: "/v1/transcriptions/{id}/webhooks",
  tags: ["Webhooks"],
  summary: "Webhook deliveries of a job and every attempt",
  request: { params: z.object({ id: z.string() }) },
  responses: { 200: { description: "Deliveries", content: { "application/json": { schema: z.object({ data: z.array(Delivery) }) } } }, ...errorResponses(401, 404) },
});
const redeliverRoute = createRoute({
  method: "post",
  path: "/v1/transcriptions/{id}/webhooks/redeliver",
  tags: ["Webhooks"],
  summary: "Send the job's webhook events again now",
  request: { params: z.object({ id: z.string() }) },
  responses: {
    202: { description: "Scheduled", content: { "application/json": { schema: z.object({ scheduled: z.number().int() }) } } },
    ...errorResponses(401, 404, 409),
  },
});
const secretRoute = createRoute({
  method: "get",
  path: "/v1/webhooks/secret",
  tags: ["Webhooks"],
  summary: "The signing secret of this key's webhooks (Standard Webhooks, whsec_…)",
  responses: { 200: { description: "Secret", content: { "application/json": { schema: z.object({ secret: z.string() }) } } }, ...errorResponses(401) },
});

export function webhookRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listDeliveries, async (c) => {
    const deps = c.get("deps");
    const found = await findJob(deps.db, c.get("apiKey").id, c.req.valid("param").id);
    if (!found) throw new ApiError("not_found", "no such transcription");
    const data = (await deliveriesOf(deps.db, found.job.id)).map(({ delivery: d, attempts }) => ({
      id: d.id,
      event_type: d.eventType,
      webhook_id: d.messageId,
      url: d.url,
      status: d.status,
      attempts: attempts.map((a) => ({ attempted_at: a.attemptedAt.toISOString(), status_code: a.statusCode, error: a.error, duration_ms: a.durationMs })),
      next_attempt_at: d.status === "pending" ? d.nextAttemptAt.toISOString() : null,
      created_at: d.createdAt.toISOString(),
    }));
    return c.json({ data }, 200);
  });
  app.openapi(redeliverRoute, async (c) => {
    const deps = c.get("deps");
    const found = await findJob(deps.db, c.get("apiKey").id, c.req.valid("param").id);
    if (!found) throw new ApiError("not_found", "no such transcription");
    const scheduled = await redeliver(deps.db, found.job);
    if (scheduled === 0) throw new ApiError("not_cancelable", "this job has no webhook events to deliver");
    return c.json({ scheduled }, 202);
  });
  app.openapi(secretRoute, (c) => c.json({ secret: c.get("apiKey").webhookSecret }, 200));
}
