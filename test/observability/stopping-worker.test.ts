import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Heartbeat } from "../../gpu-worker/heartbeat.js";
import { SampleWindow } from "../../gpu-worker/sample-window.js";
import { recentWorkerReports } from "../../edge/store/worker-heartbeats.js";
import { recommendationsView } from "../../edge/routes/observability.js";
import { silentLogger } from "../../shared/logger.js";
import { recommend } from "../../shared/recommendations.js";
import { testDatabase, type TestDatabase } from "../support/database.js";

// A worker stopped with SIGTERM writes "stopping" first; if it then goes silent (its final stopped_at write lost
// to a dead database or a hard exit), the dashboard says it stopped, not that it may have crashed.
describe("a clean stop is told from a crash", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await testDatabase("postgres");
  }, 60_000);
  afterAll(() => database?.cleanup());

  function heartbeat(workerId: string, clock: { now: Date }): Heartbeat {
    return new Heartbeat({
      db: database.db,
      logger: silentLogger,
      workerId,
      hostname: `${workerId}-host`,
      executionProvider: "cpu",
      settings: { budgetBytes: 2 ** 30, safetyMargin: 0.05, maxBatch: 8 },
      window: new SampleWindow(60, clock.now.getTime()),
      state: () => ({ activeJobs: 0, queuedChunks: 0 }),
      measureMemory: async () => null,
      intervalMs: 3_600_000, // only the beats this test asks for
      now: () => clock.now,
    });
  }

  it("a worker whose last heartbeat said stopping is not flagged; one that just went silent is", async () => {
    const t0 = new Date();
    const clock = { now: t0 };
    const stopping = heartbeat("stopping-worker", clock);
    const crashed = heartbeat("crashed-worker", clock);
    await stopping.start();
    await crashed.start();
    await stopping.markStopping();
    // Both go silent (no stop() for either): two minutes later, only the one that never said so is suspect.
    const later = new Date(t0.getTime() + 120_000);
    const reports = await recentWorkerReports(database.db, later);
    const byId = new Map(reports.map((r) => [r.workerId, r]));
    expect(byId.get("stopping-worker")?.stoppingSince?.getTime()).toBe(t0.getTime());
    expect(byId.get("crashed-worker")?.stoppingSince).toBeNull();

    const silent = recommend(reports, later).filter((r) => r.rule === "worker_silent");
    expect(silent.map((r) => r.workerId)).toEqual(["crashed-worker"]);
    expect(silent[0].message).toMatch(/may have crashed/);

    const view = recommendationsView(reports, later);
    const stoppedView = view.workers.find((w) => w.id === "stopping-worker");
    expect(stoppedView).toMatchObject({ live: false, stopped_at: null, stopping_since: t0.toISOString() });
    expect(view.workers.find((w) => w.id === "crashed-worker")).toMatchObject({ stopping_since: null });
    await crashed.stop();
    await stopping.stop();
  });

  it("stop() after markStopping still records stopped_at", async () => {
    const clock = { now: new Date() };
    const beat = heartbeat("graceful-worker", clock);
    await beat.start();
    await beat.markStopping();
    await beat.stop();
    const [report] = (await recentWorkerReports(database.db, clock.now)).filter((r) => r.workerId === "graceful-worker");
    expect(report.stoppedAt).not.toBeNull();
    expect(report.stoppingSince).not.toBeNull();
  });
});
