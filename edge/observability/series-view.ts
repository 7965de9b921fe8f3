import type { Db } from "../../db/client.js";
import { defaultThresholds } from "../../shared/recommendations.js";
import { recommendationsView } from "../routes/observability.js";
import { recentWorkerReports } from "../store/worker-heartbeats.js";
import type { JobStatsPoller } from "./job-stats.js";
import { budgetLines, jobSeries, workerSeries } from "./series.js";

/** GET /v1/admin/metrics/series and the dashboard's poll: chart columns, current counts and recommendations. */
export async function loadSeries(db: Db, stats: JobStatsPoller, now: Date) {
  const reports = await recentWorkerReports(db, now);
  const latest = stats.latest;
  return {
    ...recommendationsView(reports, now),
    ...budgetLines(reports),
    alert_fraction: defaultThresholds.memoryAlertFraction,
    worker: workerSeries(reports, now),
    jobs: jobSeries(stats.history, now),
    current: latest && {
      at: latest.at.toISOString(),
      jobs_by_status: latest.jobsByStatus,
      oldest_queued_seconds: latest.oldestQueuedSeconds,
      webhook_deliveries_by_status: latest.webhookDeliveriesByStatus,
      live_workers: latest.liveWorkers,
    },
  };
}

export type SeriesView = Awaited<ReturnType<typeof loadSeries>>;
