import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Db } from "../../db/client.js";
import type { Logger } from "../../shared/logger.js";
import { dashboardRoutes } from "../dashboard/routes.js";
import type { AppEnv } from "../env.js";
import { EdgeMetrics } from "../metrics.js";
import { requireAdmin } from "../middleware/admin.js";
import { JobStatsPoller } from "./job-stats.js";
import { loadSeries } from "./series-view.js";

export interface NodeObservabilityOptions {
  db: Db;
  logger: Logger;
  adminToken?: string;
  /** How often the job counts are read (default 5 s). */
  jobStatsIntervalMs?: number;
  now?: () => Date;
}

export interface NodeObservability {
  metrics: EdgeMetrics;
  stats: JobStatsPoller;
  stop(): Promise<void>;
}

/**
 * What only the edge on Node serves: GET /metrics (Prometheus, admin bearer token), GET /v1/admin/metrics/series
 * and the /dashboard. Registered from edge/node.ts, after createApp, so the Workers build never imports it.
 */
export function attachNodeObservability(app: OpenAPIHono<AppEnv>, options: NodeObservabilityOptions): NodeObservability {
  const stats = new JobStatsPoller({ db: options.db, logger: options.logger, intervalMs: options.jobStatsIntervalMs, now: options.now });
  const metrics = new EdgeMetrics(stats);
  const series = () => loadSeries(options.db, stats, options.now?.() ?? new Date());

  app.get("/metrics", requireAdmin, async (c) => c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }));
  // Under /v1/admin/, so createApp's middleware already demands the admin token.
  app.get("/v1/admin/metrics/series", async (c) => c.json(await series()));
  dashboardRoutes(app, { adminToken: options.adminToken, series });
  stats.start();
  return { metrics, stats, stop: () => stats.stop() };
}
