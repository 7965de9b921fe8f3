/**
 * /docs as a reader sees it: Swagger UI from this server's own copy (the browser is offline: every request
 * beyond the server is refused), over a document where every request body has fields, examples and errors.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdgeServer, type EdgeServer } from "../../edge/node.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { parseServiceConfig } from "../../shared/config.js";
import { silentLogger } from "../../shared/logger.js";
import { testDatabase, type TestDatabase } from "../support/database.js";
import { SWAGGER_UI_VERSION } from "../../edge/routes/docs.js";
import { edgeHarness, RecordingQueue } from "../support/edge-harness.js";

const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
// Debian's chromium package; a machine without it skips the browser part (see test/observability/dashboard.test.ts).
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

interface MediaType {
  schema?: { properties?: Record<string, unknown>; $ref?: string };
  example?: unknown;
}
interface Operation {
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, { description: string; content?: Record<string, MediaType>; headers?: Record<string, unknown> }>;
}
type Spec = { paths: Record<string, Record<string, Operation>>; tags: { name: string }[] };

describe("API reference at /docs", () => {
  let database: TestDatabase;
  let blobDir: string;
  let edge: EdgeServer;
  let browser: Browser | undefined;

  beforeAll(async () => {
    database = await testDatabase("postgres");
    blobDir = await mkdtemp(join(tmpdir(), "docs-blobs-"));
    edge = await startEdgeServer({
      config: parseServiceConfig({ server: { port: 0, host: "127.0.0.1" } }),
      database,
      blobs: new FsBlobStore(blobDir),
      queue: new RecordingQueue(),
      logger: silentLogger,
      jobStatsIntervalMs: 60_000,
    });
    if (existsSync(CHROMIUM)) {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"] });
    }
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await edge?.close();
    await database?.cleanup();
    if (blobDir) await rm(blobDir, { recursive: true, force: true });
  });

  it("documents every request body with its fields and an example, and fitting errors", async () => {
    const spec = (await (await fetch(`${edge.url}/openapi.json`)).json()) as Spec;
    const operations = Object.entries(spec.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })));
    // The routes a user calls first come first; the upload relay (called through the URL POST /v1/uploads returns) after them.
    expect(operations[0].route).toBe("POST /v1/transcriptions");
    expect(operations.findIndex((o) => o.route === "PUT /v1/uploads/{id}")).toBeGreaterThan(operations.findIndex((o) => o.route === "POST /v1/uploads"));
    expect(spec.tags.map((t) => t.name).slice(0, 2)).toEqual(["Transcriptions", "Uploads"]);

    const withBodies = operations.filter((o) => o.op.requestBody);
    expect(withBodies.map((o) => o.route)).toEqual(expect.arrayContaining(["POST /v1/transcriptions", "POST /v1/audio/transcriptions", "PUT /v1/uploads/{id}", "POST /v1/admin/keys"]));
    for (const { route, op } of withBodies) {
      for (const [type, media] of Object.entries(op.requestBody!.content)) {
        if (type === "application/octet-stream") continue; // raw bytes: no fields to list
        expect({ route, type, fields: Object.keys(media.schema?.properties ?? {}).length > 0 }).toEqual({ route, type, fields: true });
        expect({ route, type, example: media.example !== undefined }).toEqual({ route, type, example: true });
      }
      expect(Object.keys(op.responses).some((status) => status.startsWith("4")), route).toBe(true);
    }
    // Every route that takes an API key can be rate-limited, and says with which headers.
    for (const { route, op } of operations.filter((o) => o.route.includes(" /v1/") && !o.route.includes("/v1/admin/") && o.route !== "PUT /v1/uploads/{id}")) {
      expect(Object.keys(op.responses[429]?.headers ?? {}), route).toEqual(expect.arrayContaining(["Retry-After", "RateLimit"]));
    }
    // Upload routes do not speak of transcriptions when they mean uploads.
    for (const { route, op } of operations.filter((o) => o.route.includes("/v1/uploads"))) {
      expect(op.responses[404]?.description ?? "", route).not.toMatch(/transcription/i);
    }
    const create = spec.paths["/v1/transcriptions"].post;
    expect(create.requestBody!.content["application/json"].example).toMatchObject({ audio_url: expect.any(String) });
    expect(create.responses[415].content!["application/json"].example).toEqual({ error: { code: "unsupported_format", message: expect.any(String) } });
    expect(spec.paths["/v1/transcriptions/{id}/transcript"].get.responses[410].description).toMatch(/deleted/);
    expect(Object.keys(spec.paths["/v1/transcriptions/{id}"].get.responses[200].headers ?? {})).toEqual(["Retry-After"]);
  });

  it("serves Swagger UI's files itself, and only the ones it names", async () => {
    const css = await fetch(`${edge.url}/docs/assets/swagger-ui-dist/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await fetch(`${edge.url}/docs/assets/swagger-ui-dist/package.json`)).status).toBe(404);
    expect((await fetch(`${edge.url}/docs/assets/swagger-ui-dist/..%2F..%2Fpackage.json`)).status).toBe(404);
    const page = await (await fetch(`${edge.url}/docs`)).text();
    expect(page).toContain('src="/docs/assets/swagger-ui-dist/swagger-ui-bundle.js"');
    expect(page).not.toMatch(/cdn\.jsdelivr|unpkg/);
  });

  it("loads the installed Swagger UI release from the CDN where the server has no copy (Workers)", async () => {
    const installed = JSON.parse(readFileSync(new URL("../../node_modules/swagger-ui-dist/package.json", import.meta.url), "utf8")) as { version: string };
    expect(SWAGGER_UI_VERSION).toBe(installed.version);
    const h = await edgeHarness("pglite");
    try {
      const page = await (await h.app.request("/docs")).text();
      expect(page).toContain(`https://cdn.jsdelivr.net/npm/swagger-ui-dist@${installed.version}/swagger-ui-bundle.js`);
      expect((await h.app.request("/docs/assets/swagger-ui-dist/swagger-ui.css")).status).toBe(404);
    } finally {
      await h.cleanup();
    }
  });

  it.runIf(existsSync(CHROMIUM))("renders the operations and a request body's schema in offline Chromium", async () => {
    const context = await browser!.newContext({ viewport: { width: 1300, height: 1000 } });
    const offsite: string[] = [];
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin === edge.url || url.protocol === "data:") return route.continue();
      offsite.push(url.href);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    await page.goto(`${edge.url}/docs`);
    await page.waitForSelector(".opblock-summary");
    const first = page.locator(".opblock").first();
    expect(await first.locator(".opblock-summary-method").innerText()).toBe("POST");
    expect(await first.locator(".opblock-summary-path").innerText()).toMatch(/^\/v1\/transcriptions$/);
    // Markdown in descriptions renders: backticks become code, not literal backticks.
    expect(await page.locator(".opblock-tag-section .opblock-tag small, .opblock-tag-section .opblock-tag .markdown").first().innerHTML()).toContain("<code>");

    await first.locator(".opblock-summary").click();
    const requestBody = first.locator(".opblock-section-request-body");
    await requestBody.waitFor();
    // The JSON variant: its example and, on the Schema tab, its fields.
    await requestBody.locator("select").selectOption("application/json");
    await requestBody.locator(".highlight-code").waitFor();
    expect(await requestBody.locator(".highlight-code").innerText()).toContain('"audio_url": "https://example.com/meeting.mp3"');
    await requestBody.getByRole("tab", { name: "Schema" }).click();
    await requestBody.locator(".model-box").waitFor();
    const schemaText = await requestBody.locator(".model-box").innerText();
    for (const field of ["audio_url", "upload_id", "language", "webhook_url"]) expect(schemaText).toContain(field);
    // Error answers with their examples.
    expect(await first.locator(".responses-table").innerText()).toContain("unsupported_format");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("docs.png", ARTIFACTS).pathname, fullPage: false });
    await first.screenshot({ path: new URL("docs-create-transcription.png", ARTIFACTS).pathname });
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]);
    await context.close();
  }, 60_000);
});
