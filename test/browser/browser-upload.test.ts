import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeys } from "../../db/schema.js";
import { startExampleServer, type ExampleServer } from "../../examples/browser-upload/server.js";
import { startStack, type Stack } from "../support/stack.js";

// The model `npm start` ships: it really transcribes the committed sample.
const MODEL = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const SPEECH = fileURLToPath(new URL("../fixtures/audio/speech.wav", import.meta.url));
const SPOKEN = "Set a timer for five minutes.";

// Debian's chromium package; a machine without it skips this file, .ci/run installs it.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) console.warn(`browser upload test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

/**
 * examples/browser-upload in headless Chromium: the page is served by the example's own backend on a second
 * origin, gets a browser token from it, PUTs the file straight to the upload URL, follows the job and shows the
 * transcript. The same page from an origin nobody allowed is stopped by the browser.
 */
describe.runIf(existsSync(CHROMIUM))("browser upload from another origin, in headless Chromium", () => {
  let stack: Stack;
  let allowedSite: ExampleServer;
  let otherSite: ExampleServer;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack("postgres", { model: { dir: MODEL }, rateLimits: { requestsPerMinute: 10_000 } });
    allowedSite = await startExampleServer({ apiUrl: stack.edge.url, apiKey: stack.apiKey, port: 0 });
    // Unbound tokens, so that it is the browser, not the API, that stops this page.
    otherSite = await startExampleServer({ apiUrl: stack.edge.url, apiKey: stack.apiKey, port: 0, bindToOrigin: false });
    // The key's own list (no CORS_ORIGINS in this stack): only the first site's origin.
    await stack.database.db.update(apiKeys).set({ allowedOrigins: [allowedSite.url] }).where(eq(apiKeys.keyHash, await sha256(stack.apiKey)));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await allowedSite?.close();
    await otherSite?.close();
    await stack?.stop();
  });

  it("uploads a file straight to the upload URL with progress, follows the job and shows the transcript", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
    const apiRequests: string[] = [];
    page.on("request", (r) => r.url().startsWith(stack.edge.url) && apiRequests.push(`${r.method()} ${new URL(r.url()).pathname}`));

    await page.goto(allowedSite.url);
    expect(new URL(page.url()).origin).not.toBe(new URL(stack.edge.url).origin);
    await page.setInputFiles("#file", SPEECH);
    await page.waitForSelector("body[data-state=done], body[data-state=error]", { timeout: 90_000 });
    expect(await page.textContent("#status")).toMatch(/^Done/);
    expect(await page.textContent("#transcript")).toBe(SPOKEN);

    // The bytes went from the page to the upload URL (a cross-origin PUT), and the page saw their progress.
    const calls = apiRequests.filter((r) => !r.startsWith("OPTIONS ") && !r.startsWith("GET "));
    expect(calls).toEqual(["POST /v1/uploads", expect.stringMatching(/^PUT \/v1\/uploads\/up_[0-9a-z]{24}$/), "POST /v1/transcriptions"]);
    expect(apiRequests.filter((r) => r.startsWith("GET /v1/transcriptions/tr_")).length).toBeGreaterThan(0);
    const progress = (await page.evaluate(() => (window as unknown as { uploadProgress: number[] }).uploadProgress)) as number[];
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(1);
    expect(Number(await page.getAttribute("#upload-progress", "value"))).toBe(1);
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 120_000);

  it("is refused by the browser from an origin that is not allowed", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    const jobCount = async () => ((await (await stack.request("/v1/transcriptions?limit=100")).json()) as { data: unknown[] }).data.length;
    const jobsBefore = await jobCount();

    await page.goto(otherSite.url);
    await page.setInputFiles("#file", SPEECH);
    await page.waitForSelector("body[data-state=error]", { timeout: 30_000 });
    expect(await page.textContent("#status")).toMatch(/could not be reached/);
    expect(consoleErrors.join("\n")).toMatch(/blocked by CORS policy/);
    // The preflight failed, so the POST itself never left the browser; no job was made.
    expect(await jobCount()).toBe(jobsBefore);
    expect(await page.textContent("#transcript")).toBe("");
    await context.close();
  });
});

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
