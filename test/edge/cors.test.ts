import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORS_EXPOSED_HEADERS } from "../../edge/middleware/cors.js";
import { ConfigError, parseServiceConfig } from "../../shared/config.js";
import { startBrowserEdge, type BrowserEdge } from "../support/browser-edge.js";

const APP = "https://app.example";
const preflight = (url: string, origin: string, method = "POST", headers = "authorization,content-type") =>
  fetch(url, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers } });
const list = (value: string | null) => (value ?? "").split(",").map((v) => v.trim().toLowerCase());

describe("CORS over real HTTP", () => {
  let edge: BrowserEdge;
  beforeAll(async () => {
    edge = await startBrowserEdge({ cors: { origins: [APP] }, rateLimits: { requestsPerMinute: 5 } });
  });
  afterAll(async () => edge?.close());

  it("answers a preflight from a configured origin before authentication", async () => {
    const res = await preflight(`${edge.url}/v1/transcriptions`, APP, "POST", "authorization,content-type,idempotency-key");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(list(res.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["post", "put", "get"]));
    expect(list(res.headers.get("access-control-allow-headers"))).toEqual(expect.arrayContaining(["authorization", "content-type", "idempotency-key"]));
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(list(res.headers.get("vary"))).toContain("origin");
  });

  it("answers the preflight of an upload URL, which has no API key", async () => {
    const created = await edge.request("/v1/uploads", { method: "POST" });
    const { url } = (await created.json()) as { url: string };
    const res = await preflight(url, APP, "PUT", "content-type");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(list(res.headers.get("access-control-allow-methods"))).toContain("put");
  });

  it("gives an origin that nobody allowed no Access-Control-Allow-Origin, so the browser refuses", async () => {
    const res = await preflight(`${edge.url}/v1/transcriptions`, "https://evil.example");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const actual = await edge.request("/v1/usage", { headers: { Origin: "https://evil.example" } });
    expect(actual.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows an origin a key lists, for that key's requests only", async () => {
    const pre = await preflight(`${edge.url}/v1/uploads`, "https://key-app.example");
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://key-app.example");
    const own = await edge.request("/v1/usage", { headers: { Origin: "https://key-app.example" } });
    expect(own.status).toBe(200);
    expect(own.headers.get("access-control-allow-origin")).toBe("https://key-app.example");
    const other = await edge.request("/v1/usage", { key: edge.otherKey, headers: { Origin: "https://key-app.example" } });
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe("forbidden");
  });

  it("lets the API's own pages (same origin) call it with any key", async () => {
    const res = await edge.request("/v1/usage", { key: edge.otherKey, headers: { Origin: edge.url } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("exposes the headers a page needs on successes and on errors", async () => {
    const ok = await edge.request("/v1/usage", { key: edge.otherKey, headers: { Origin: APP } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    const exposed = list(ok.headers.get("access-control-expose-headers"));
    for (const name of ["ratelimit", "ratelimit-remaining", "retry-after", "idempotent-replayed", "x-request-id"]) expect(exposed).toContain(name);
    expect(exposed).toEqual(CORS_EXPOSED_HEADERS.map((h) => h.toLowerCase()));
    expect(ok.headers.get("ratelimit")).toMatch(/^"(minute|reads)";r=\d+;t=\d+$/);

    const unauthorized = await fetch(`${edge.url}/v1/usage`, { headers: { Origin: APP, Authorization: "Bearer sk_live_nope" } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("access-control-allow-origin")).toBe(APP);
    expect(unauthorized.headers.get("access-control-expose-headers")).toContain("X-Request-Id");

    // Past the limit: the page can read Retry-After.
    let limited: Response | undefined;
    for (let i = 0; i < 10 && limited?.status !== 429; i++) limited = await edge.request("/v1/uploads", { key: edge.otherKey, method: "POST", headers: { Origin: APP } });
    expect(limited?.status).toBe(429);
    expect(limited?.headers.get("access-control-allow-origin")).toBe(APP);
    expect(limited?.headers.get("retry-after")).toMatch(/^\d+$/);
  });
});

describe("CORS with a wildcard", () => {
  let edge: BrowserEdge;
  beforeAll(async () => {
    edge = await startBrowserEdge({ cors: { origins: ["*"] } });
  });
  afterAll(async () => edge?.close());

  it("allows any origin and never credentials", async () => {
    const res = await preflight(`${edge.url}/v1/transcriptions`, "https://anyone.example");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    const actual = await edge.request("/v1/usage", { headers: { Origin: "https://anyone.example" } });
    expect(actual.status).toBe(200);
    expect(actual.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("CORS configuration", () => {
  it("reads CORS_ORIGINS as a comma-separated list, written as browsers write origins", () => {
    const config = parseServiceConfig({}, { CORS_ORIGINS: "https://App.example , http://localhost:5173/" });
    expect(config.cors.origins).toEqual(["https://app.example", "http://localhost:5173"]);
    expect(parseServiceConfig({}).cors.origins).toEqual([]);
  });

  it("refuses entries that are not origins", () => {
    expect(() => parseServiceConfig({}, { CORS_ORIGINS: "https://app.example/path" })).toThrow(ConfigError);
    expect(() => parseServiceConfig({ cors: { origins: ["app.example"] } })).toThrow(/origin/);
  });
});
