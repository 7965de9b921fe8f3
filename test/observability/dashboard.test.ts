import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SeriesView } from "../../edge/observability/series-view.js";
import { shortWav, speechWav, startObservedStack, type ObservedStack } from "./observed-stack.js";

const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const CHARTS = ["chart-throughput", "chart-batch", "chart-memory", "chart-queue", "chart-jobs"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Debian's chromium package; a machine without it (a fresh checkout) skips this file, .ci/run installs it.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) console.warn(`dashboard test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

describe.runIf(existsSync(CHROMIUM))("live dashboard in headless Chromium", () => {
  let stack: ObservedStack;
  // launch() gives every browser a fresh temporary profile (user-data-dir) of its own, removed on close.
  let browser: Browser;

  beforeAll(async () => {
    // A budget near the tiny model's batches, so the memory chart shows them against the budget line.
    stack = await startObservedStack("postgres", { batching: { budgetBytes: 512 * 1024 ** 2, maxWaitMs: 150 } });
    // A few rounds of work, one heartbeat each, a second apart so every round is its own point on the charts.
    for (let round = 0; round < 6; round++) {
      // Several uploads at once usually share a batch (how many depends on arrival timing, so not asserted).
      const files = round % 2 === 0 ? [speechWav, speechWav, speechWav, speechWav] : [shortWav];
      await Promise.all(files.map((f) => stack.transcribe(f)));
      await stack.worker.observability.heartbeat.tick();
      await stack.admin.observability.stats.poll();
      await sleep(1100);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("refuses the page's data without a session and the sign-in with a wrong token", async () => {
    expect((await fetch(`${stack.admin.url}/dashboard/api/series`)).status).toBe(401);
    expect((await fetch(`${stack.admin.url}/v1/admin/metrics/series`)).status).toBe(401);
    const wrong = await fetch(`${stack.admin.url}/dashboard/login`, { method: "POST", body: new URLSearchParams({ token: "nope" }), redirect: "manual" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect(await wrong.text()).toContain("not the admin token");
    // The stack's own edge has no admin token: no dashboard there at all.
    expect((await fetch(`${stack.edge.url}/dashboard`)).status).toBe(404);
  });

  it("signs in, polls the series and draws every chart with data", async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));

    await page.goto(`${stack.admin.url}/dashboard`);
    await page.fill("#token", stack.adminToken);
    const firstSeries = page.waitForResponse((r) => r.url().endsWith("/dashboard/api/series") && r.status() === 200);
    await page.click("button[type=submit]");
    const series = (await (await firstSeries).json()) as SeriesView;
    await page.waitForSelector("body[data-loaded=true]");

    // The data behind the charts: the worker's samples and the edge's job counts.
    expect(series.worker.t.length).toBeGreaterThanOrEqual(3);
    expect(series.worker.throughput.filter((v) => v !== null && v > 0).length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...series.worker.batch_size_max.map((v) => v ?? 0))).toBeGreaterThanOrEqual(1);
    expect(series.worker.modeled_peak_bytes.some((v) => v !== null && v > 0)).toBe(true);
    expect(series.jobs.by_status.completed.at(-1)).toBe(15);
    expect(series.budget_bytes).toBe(512 * 1024 ** 2);
    expect(series.recommendations.length).toBeGreaterThan(0);

    for (const id of CHARTS) {
      await expect.poll(() => page.locator(`#${id} canvas`).count()).toBe(1);
      expect(Number(await page.getAttribute(`#${id}`, "data-points")), id).toBeGreaterThan(0);
    }
    // Something was actually drawn: pixels of the throughput line's colour (#4cc2ff) on its canvas.
    const linePixels = await page.$eval("#chart-throughput canvas", (canvas) => {
      const c = canvas as HTMLCanvasElement;
      const { data } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - 0x4c) < 24 && Math.abs(data[i + 1] - 0xc2) < 24 && Math.abs(data[i + 2] - 0xff) < 24 && data[i + 3] > 200) n++;
      return n;
    });
    expect(linePixels).toBeGreaterThan(50);

    // Rendered text: the header counts, the legend and the recommendations.
    expect(await page.textContent("#stat-completed")).toBe("15");
    expect(await page.textContent("#stat-budget")).toBe("512.0 MiB");
    const firstRule = await page.getAttribute("#recommendations li", "data-rule");
    expect(firstRule).toBe(series.recommendations[0].rule);
    expect(await page.textContent("#recommendations li p")).toBe(series.recommendations[0].message);
    expect(await page.locator("#workers tr").count()).toBe(1);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("dashboard.png", ARTIFACTS).pathname, fullPage: true });
    expect(pageErrors).toEqual([]);

    // The cookie is the whole session: signing out ends it.
    await page.click("button.link");
    await page.waitForSelector("#token");
    await context.close();
  });
});
