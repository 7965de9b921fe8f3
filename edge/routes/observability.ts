import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { isLiveWorker, recommend, type Recommendation } from "../../shared/recommendations.js";
import type { WorkerReport } from "../../shared/worker-sample.js";
import type { AppEnv } from "../env.js";
import { errorResponses } from "../schemas.js";
import { recentWorkerReports } from "../store/worker-heartbeats.js";

// Workers-safe: heartbeat rows and pure rules only. prom-client and the dashboard stay in the Node entry point.

const WorkerSchema = z
  .object({
    id: z.string(),
    hostname: z.string(),
    execution_provider: z.string(),
    live: z.boolean().openapi({ description: "running and heard from within 30 s" }),
    last_seen_at: z.string(),
    stopped_at: z.string().nullable(),
    stopping_since: z.string().nullable(),
    budget_bytes: z.number().int(),
    safety_margin: z.number(),
    max_batch: z.number().int(),
    samples: z.number().int().openapi({ description: "samples in the worker's sliding window" }),
  })
  .openapi("WorkerStatus");

const RecommendationSchema = z
  .object({
    rule: z.enum(["memory_alert", "memory_sustained_high", "memory_fragmentation", "memory_feedback_limit", "throughput_below_expected", "queue_wait_growing", "worker_silent", "no_worker_reporting", "healthy"]),
    severity: z.enum(["info", "warning", "critical"]),
    worker_id: z.string().nullable(),
    message: z.string(),
    numbers: z.record(z.string(), z.number()).openapi({ description: "the figures the finding was derived from" }),
  })
  .openapi("Recommendation");

export const RecommendationsSchema = z
  .object({ generated_at: z.string(), workers: z.array(WorkerSchema), recommendations: z.array(RecommendationSchema) })
  .openapi("Recommendations");

export type RecommendationsView = z.infer<typeof RecommendationsSchema>;

const getRecommendations = createRoute({
  method: "get",
  path: "/v1/admin/recommendations",
  tags: ["Admin"],
  summary: "Tuning recommendations from the workers' recent memory, throughput and queue-wait samples",
  responses: {
    200: { description: "Findings, most severe first; a single `healthy` one when no rule fires", content: { "application/json": { schema: RecommendationsSchema } } },
    ...errorResponses(401),
  },
});

const recommendationView = (r: Recommendation): RecommendationsView["recommendations"][number] => ({
  rule: r.rule,
  severity: r.severity,
  worker_id: r.workerId ?? null,
  message: r.message,
  numbers: r.numbers,
});

/** The JSON both this route and the dashboard's series carry. */
export function recommendationsView(reports: WorkerReport[], now: Date): RecommendationsView {
  return {
    generated_at: now.toISOString(),
    workers: reports.map((w) => ({
      id: w.workerId,
      hostname: w.hostname,
      execution_provider: w.executionProvider,
      live: isLiveWorker(w, now),
      last_seen_at: w.updatedAt.toISOString(),
      stopped_at: w.stoppedAt?.toISOString() ?? null,
      stopping_since: w.stoppingSince?.toISOString() ?? null,
      budget_bytes: w.budgetBytes,
      safety_margin: w.safetyMargin,
      max_batch: w.maxBatch,
      samples: w.samples.length,
    })),
    recommendations: recommend(reports, now).map(recommendationView),
  };
}

export function observabilityRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getRecommendations, async (c) => {
    const deps = c.get("deps");
    const now = deps.now?.() ?? new Date();
    return c.json(recommendationsView(await recentWorkerReports(deps.db, now), now), 200);
  });
}
