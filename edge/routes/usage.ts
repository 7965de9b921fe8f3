import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/api-error.js";
import type { AppEnv } from "../env.js";
import { errorResponses } from "../schemas.js";
import { usageByDay } from "../store/usage.js";
import { parseInstant } from "../params.js";

const DayUsage = z.object({ date: z.string(), jobs: z.number().int(), billable_seconds: z.number().int(), audio_seconds: z.number() });

const getUsage = createRoute({
  method: "get",
  path: "/v1/usage",
  tags: ["Billing"],
  summary: "Billed audio per day for the calling key",
  description: "One row per UTC day with completed jobs. Billable seconds are the decoded duration rounded up, with the configured minimum per job; failed and canceled jobs are not billed.",
  request: {
    query: z.object({
      from: z.string().optional().openapi({ description: "ISO date or time, inclusive (default: 30 days ago)", example: "2026-11-01" }),
      to: z.string().optional().openapi({ description: "ISO date or time, exclusive (default: now)", example: "2026-12-01" }),
    }),
  },
  responses: {
    200: {
      description: "Usage",
      content: {
        "application/json": {
          schema: z.object({ from: z.string(), to: z.string(), days: z.array(DayUsage), total: DayUsage.omit({ date: true }) }).openapi("Usage"),
        },
      },
    },
    ...errorResponses(400, 401, 429, 503),
  },
});

function instantParam(value: string | undefined, fallback: Date, name: string): Date {
  if (value === undefined) return fallback;
  const at = parseInstant(value);
  if (!at) throw new ApiError("invalid_request", `${name} must be an ISO 8601 date or time between 1970 and 9999`);
  return at;
}

export function usageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getUsage, async (c) => {
    const deps = c.get("deps");
    const now = deps.now?.() ?? new Date();
    const query = c.req.valid("query");
    const to = instantParam(query.to, now, "to");
    const from = instantParam(query.from, new Date(to.getTime() - 30 * 86400_000), "from");
    if (from >= to) throw new ApiError("invalid_request", "from must be before to");
    const days = await usageByDay(deps.db, c.get("apiKey").id, from, to);
    const total = days.reduce(
      (t, d) => ({ jobs: t.jobs + d.jobs, billable_seconds: t.billable_seconds + d.billable_seconds, audio_seconds: Math.round((t.audio_seconds + d.audio_seconds) * 1000) / 1000 }),
      { jobs: 0, billable_seconds: 0, audio_seconds: 0 },
    );
    return c.json({ from: from.toISOString(), to: to.toISOString(), days, total }, 200);
  });
}
