import { readFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs, usageRecords, webhookAttempts, webhookDeliveries } from "../../db/schema.js";
import { findActiveApiKey } from "../../edge/store/api-keys.js";
import { edgeHarness, multipart, type EdgeHarness } from "../support/edge-harness.js";

const speech = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));
const ADMIN = "admin-test-token";

describe("hosted service features", () => {
  let h: EdgeHarness;
  beforeAll(async () => {
    h = await edgeHarness("postgres", { rateLimits: { requestsPerMinute: 1000 } }, { adminToken: ADMIN });
  });
  afterAll(() => h.cleanup());

  const admin = (path: string, init: RequestInit = {}) =>
    h.app.request(path, { ...init, headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json", ...(init.headers ?? {}) } });
  const upload = (key: string, extraHeaders: Record<string, string> = {}, data = speech) =>
    h.app.request("/v1/transcriptions", { method: "POST", headers: { ...h.auth(key), ...extraHeaders }, body: multipart({ file: { data, name: "s.wav" } }) });

  describe("API keys", () => {
    it("creates a key shown once, lists it without the secret, revokes it", async () => {
      const created = await admin("/v1/admin/keys", { method: "POST", body: JSON.stringify({ name: "acme", rate_limit_per_minute: 5 }) });
      expect(created.status).toBe(201);
      const key = await created.json();
      expect(key.key).toMatch(/^sk_live_[0-9A-Za-z]{32}$/);
      expect(key.webhook_secret).toMatch(/^whsec_/);
      expect(key.prefix).toBe(key.key.slice(0, 12));

      const list = await (await admin("/v1/admin/keys")).json();
      const listed = list.data.find((k: { id: string }) => k.id === key.id);
      expect(listed).toMatchObject({ name: "acme", rate_limit_per_minute: 5, revoked_at: null });
      expect(JSON.stringify(list)).not.toContain(key.key);

      expect((await h.app.request("/v1/transcriptions", { headers: h.auth(key.key) })).status).toBe(200);
      expect((await admin(`/v1/admin/keys/${key.id}`, { method: "DELETE" })).status).toBe(200);
      expect((await h.app.request("/v1/transcriptions", { headers: h.auth(key.key) })).status).toBe(401);
    });

    it("refuses the admin API without the admin token, and an API key is not one", async () => {
      expect((await h.app.request("/v1/admin/keys")).status).toBe(401);
      expect((await h.app.request("/v1/admin/keys", { headers: h.auth() })).status).toBe(401);
    });
  });

  describe("rate limits", () => {
    it("answers 429 with Retry-After and RateLimit headers past the per-key limit", async () => {
      const created = await (await admin("/v1/admin/keys", { method: "POST", body: JSON.stringify({ name: "limited", rate_limit_per_minute: 3 }) })).json();
      const responses = [];
      // Writes count against the key's limit (reads have their own budget): a create without audio is one.
      const create = () => h.app.request("/v1/transcriptions", { method: "POST", headers: { ...h.auth(created.key), "Content-Type": "application/json" }, body: "{}" });
      for (let i = 0; i < 4; i++) responses.push(await create());
      expect(responses.slice(0, 3).map((r) => r.status)).toEqual([400, 400, 400]);
      expect(responses[0].headers.get("ratelimit-limit")).toBe("3");
      expect(responses[2].headers.get("ratelimit-remaining")).toBe("0");
      expect(responses[0].headers.get("ratelimit-policy")).toBe('"minute";q=3;w=60');
      expect(responses[0].headers.get("ratelimit")).toMatch(/^"minute";r=2;t=\d+$/);
      const limited = responses[3];
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await limited.json()).error.code).toBe("rate_limited");
    });
  });

  describe("monthly quota", () => {
    it("refuses a job that would exceed the key's audio quota, counting queued jobs", async () => {
      const created = await (await admin("/v1/admin/keys", { method: "POST", body: JSON.stringify({ name: "quota", monthly_audio_seconds_quota: 4 }) })).json();
      expect((await upload(created.key)).status).toBe(202); // ≈ 2.1 s → 3 s counted
      const second = await upload(created.key);
      expect(second.status).toBe(429);
      expect((await second.json()).error.code).toBe("quota_exceeded");
      expect(Number(second.headers.get("retry-after"))).toBeGreaterThan(0);
    });
  });

  describe("idempotency", () => {
    it("returns the same job for the same key and body, 409 for another body", async () => {
      const first = await upload(h.apiKey, { "Idempotency-Key": "abc-1" });
      const second = await upload(h.apiKey, { "Idempotency-Key": "abc-1" });
      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.headers.get("idempotent-replayed")).toBe("true");
      const a = await first.json();
      const b = await second.json();
      expect(b.id).toBe(a.id);
      const rows = await h.database.db.select().from(jobs).where(eq(jobs.id, a.id));
      expect(rows).toHaveLength(1);

      const other = speech.slice();
      other[other.length - 1] ^= 1;
      const conflict = await upload(h.apiKey, { "Idempotency-Key": "abc-1" }, other);
      expect(conflict.status).toBe(409);
      expect((await conflict.json()).error.code).toBe("idempotency_key_reused");
    });

    it("frees the key when the request failed, so a corrected retry works", async () => {
      const bad = await h.app.request("/v1/transcriptions", { method: "POST", headers: { ...h.auth(), "Idempotency-Key": "k2" }, body: multipart({ file: { data: new Uint8Array(10), name: "x" } }) });
      expect(bad.status).toBe(415);
      expect((await upload(h.apiKey, { "Idempotency-Key": "k2" })).status).toBe(202);
    });
  });

  describe("usage", () => {
    it("reports billed seconds per day for the calling key only", async () => {
      const keyId = (await findActiveApiKey(h.database.db, h.apiKey))!.id;
      const ids = ["tr_usage1", "tr_usage2", "tr_usage3"];
      for (const id of ids) await h.database.db.insert(jobs).values({ id, apiKeyId: keyId, audioBytes: 1, contentType: "audio/wav", status: "completed" });
      await h.database.db.insert(usageRecords).values([
        { jobId: ids[0], apiKeyId: keyId, billableSeconds: 10, audioSeconds: 9.5, createdAt: new Date("2026-11-02T10:00:00Z") },
        { jobId: ids[1], apiKeyId: keyId, billableSeconds: 3, audioSeconds: 2.2, createdAt: new Date("2026-11-02T23:59:00Z") },
        { jobId: ids[2], apiKeyId: keyId, billableSeconds: 60, audioSeconds: 59.1, createdAt: new Date("2026-11-03T00:01:00Z") },
      ]);
      const res = await h.app.request("/v1/usage?from=2026-11-01&to=2026-11-04", { headers: h.auth() });
      const body = await res.json();
      expect(body.days).toEqual([
        { date: "2026-11-02", jobs: 2, billable_seconds: 13, audio_seconds: 11.7 },
        { date: "2026-11-03", jobs: 1, billable_seconds: 60, audio_seconds: 59.1 },
      ]);
      expect(body.total).toEqual({ jobs: 3, billable_seconds: 73, audio_seconds: 70.8 });
      const other = await (await h.app.request("/v1/usage?from=2026-11-01&to=2026-11-04", { headers: h.auth(h.otherKey) })).json();
      expect(other.days).toEqual([]);
      expect((await h.app.request("/v1/usage?from=yesterday", { headers: h.auth() })).status).toBe(400);
    });
  });

  describe("webhook deliveries", () => {
    it("lists deliveries with their attempts and schedules a redelivery", async () => {
      const res = await upload(h.apiKey);
      const { id } = await res.json();
      const [delivery] = await h.database.db
        .insert(webhookDeliveries)
        .values({ jobId: id, eventType: "transcription.completed", messageId: "msg_test1", url: "https://example.com/h", payload: { type: "x" }, status: "gave_up", attempts: 2 })
        .returning();
      await h.database.db.insert(webhookAttempts).values([
        { deliveryId: delivery.id, statusCode: 500, durationMs: 12 },
        { deliveryId: delivery.id, statusCode: null, error: "timeout", durationMs: 15000 },
      ]);
      const list = await (await h.app.request(`/v1/transcriptions/${id}/webhooks`, { headers: h.auth() })).json();
      expect(list.data).toHaveLength(1);
      expect(list.data[0]).toMatchObject({ webhook_id: "msg_test1", status: "gave_up" });
      expect(list.data[0].attempts.map((a: { status_code: number | null }) => a.status_code)).toEqual([500, null]);

      const redo = await h.app.request(`/v1/transcriptions/${id}/webhooks/redeliver`, { method: "POST", headers: h.auth() });
      expect(redo.status).toBe(202);
      const [row] = await h.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, delivery.id));
      expect(row.status).toBe("pending");
      expect((await h.app.request(`/v1/transcriptions/${id}/webhooks`, { headers: h.auth(h.otherKey) })).status).toBe(404);
    });

    it("gives the key its signing secret", async () => {
      const res = await (await h.app.request("/v1/webhooks/secret", { headers: h.auth() })).json();
      expect(res.secret).toMatch(/^whsec_/);
    });
  });
});
