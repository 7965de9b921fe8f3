import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { AppEnv } from "../env.js";

const health = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["Operations"],
  summary: "Liveness and database reachability",
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: z.object({ status: z.literal("ok"), database: z.literal("ok") }) } } },
    503: { description: "The database is unreachable", content: { "application/json": { schema: z.object({ status: z.literal("degraded"), database: z.literal("unreachable") }) } } },
  },
});

export function healthRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(health, async (c) => {
    try {
      await c.get("deps").db.execute(sql`select 1`);
      return c.json({ status: "ok" as const, database: "ok" as const }, 200);
    } catch {
      return c.json({ status: "degraded" as const, database: "unreachable" as const }, 503, { "Retry-After": "5" });
    }
  });
}
