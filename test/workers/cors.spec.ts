import { describe, expect, it } from "vitest";
import { auth, callWorker } from "./worker-client.js";

const APP = "https://app.example"; // CORS_ORIGINS in worker-vars.ts

describe("calling the Worker from a browser", () => {
  it("answers a preflight before authentication, for the configured origin only", async () => {
    const preflight = (origin: string) =>
      callWorker("/v1/uploads", {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization" },
      });
    const allowed = await preflight(APP);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(APP);
    expect(allowed.headers.get("access-control-allow-headers")).toContain("Authorization");
    expect(allowed.headers.get("access-control-allow-credentials")).toBeNull();
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("mints a browser token that gets an upload URL from the page's origin, with the headers a page reads", async () => {
    const minted = await callWorker("/v1/tokens", {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ origin: APP, expires_in: 120 }),
    });
    expect(minted.status).toBe(201);
    const { token } = (await minted.json()) as { token: string };
    const upload = await callWorker("/v1/uploads", { method: "POST", headers: { ...auth(token), Origin: APP } });
    expect(upload.status).toBe(200);
    expect(upload.headers.get("access-control-allow-origin")).toBe(APP);
    expect(upload.headers.get("access-control-expose-headers")).toContain("RateLimit-Remaining");
    expect(((await upload.json()) as { url: string }).url).toMatch(/^https:\/\/test-account\.r2\.cloudflarestorage\.com\//);
    // Out of scope, and from another origin.
    expect((await callWorker("/v1/usage", { headers: { ...auth(token), Origin: APP } })).status).toBe(403);
    expect((await callWorker("/v1/uploads", { method: "POST", headers: { ...auth(token), Origin: "https://evil.example" } })).status).toBe(403);
  });
});
