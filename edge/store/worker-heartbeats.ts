import { desc, gt } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { workerHeartbeats, type WorkerHeartbeat } from "../../db/schema.js";
import type { WorkerReport } from "../../shared/worker-sample.js";

/** Heartbeats older than this are not read at all: a worker gone this long is neither live nor news. */
export const HEARTBEAT_HORIZON_MS = 30 * 60 * 1000;

export const workerReport = (row: WorkerHeartbeat): WorkerReport => ({
  workerId: row.workerId,
  hostname: row.hostname,
  executionProvider: row.executionProvider,
  budgetBytes: row.budgetBytes,
  safetyMargin: row.safetyMargin,
  maxBatch: row.maxBatch,
  updatedAt: row.updatedAt,
  stoppedAt: row.stoppedAt,
  stoppingSince: row.stoppingSince,
  samples: row.samples,
});

/** Workers that reported within the horizon, newest first, with their sample windows. */
export async function recentWorkerReports(db: Db, now: Date): Promise<WorkerReport[]> {
  const rows = await db
    .select()
    .from(workerHeartbeats)
    .where(gt(workerHeartbeats.updatedAt, new Date(now.getTime() - HEARTBEAT_HORIZON_MS)))
    .orderBy(desc(workerHeartbeats.updatedAt))
    .limit(200);
  return rows.map(workerReport);
}
