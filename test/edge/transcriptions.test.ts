import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs, outbox } from "../../db/schema.js";
import { databaseKinds } from "../support/database.js";
import { edgeHarness, multipart, type EdgeHarness } from "../support/edge-harness.js";

/** `seconds` of 8 kHz, 8-bit mono silence: long audio in few bytes. */
function wav8k(seconds: number): Uint8Array {
  const n = 8000 * seconds;
  const bytes = new Uint8Array(44 + n).fill(128, 44);
  const v = new DataView(bytes.buffer);
  const ascii = (at: number, s: string) => [...s].forEach((ch, i) => (bytes[at + i] = ch.charCodeAt(0)));
  ascii(0, "RIFF"); v.setUint32(4, 36 + n, true); ascii(8, "WAVE"); ascii(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, 8000, true);
  v.setUint32(28, 8000, true); v.setUint16(32, 1, true); v.setUint16(34, 8, true); ascii(36, "data"); v.setUint32(40, n, true);
  return bytes;
}

const speech = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));

describe.each(databaseKinds)("transcriptions API on %s", (kind) => {
  let h: EdgeHarness;
  beforeAll(async () => {
    h = await edgeHarness(kind, { limits: { maxUploadBytes: 1_000_000, maxDurationSeconds: 60 } });
  });
  afterAll(() => h.cleanup());

  const upload = (fields: Parameters<typeof multipart>[0], key?: string) =>
    h.app.request("/v1/transcriptions", { method: "POST", headers: h.auth(key), body: multipart(fields) });

  it("accepts a WAV upload: 202, job stored, blob stored, message sent", async () => {
    const res = await upload({ file: { data: speech, name: "speech.wav", type: "audio/wav" }, language: "en" });
    expect(res.status).toBe(202);
    const job = await res.json();
    expect(job).toMatchObject({ object: "transcription", status: "queued", progress: 0, language: "en", text: null });
    expect(job.id).toMatch(/^tr_[0-9a-z]{24}$/);
    expect(job.duration_seconds).toBeCloseTo(speech.length / 2 / 16000, 1);
    expect(res.headers.get("location")).toBe(`/v1/transcriptions/${job.id}`);
    expect(h.queue.sent.map((m) => m.jobId)).toContain(job.id);
    const [row] = await h.database.db.select().from(outbox).where(sql`${outbox.jobId} = ${job.id}`);
    expect(row.sentAt).not.toBeNull();

    const got = await h.app.request(`/v1/transcriptions/${job.id}`, { headers: h.auth() });
    expect(got.status).toBe(200);
    expect((await got.json()).id).toBe(job.id);
  });

  it("keeps the job and an unsent outbox row when the queue is down", async () => {
    h.queue.failing = true;
    const res = await upload({ file: { data: speech, name: "a.wav" } });
    h.queue.failing = false;
    expect(res.status).toBe(202);
    const { id } = await res.json();
    const [row] = await h.database.db.select().from(outbox).where(sql`${outbox.jobId} = ${id}`);
    expect(row.sentAt).toBeNull();
  });

  it("404s another key's job and lists only the caller's jobs", async () => {
    const res = await upload({ file: { data: speech, name: "mine.wav" } });
    const { id } = await res.json();
    expect((await h.app.request(`/v1/transcriptions/${id}`, { headers: h.auth(h.otherKey) })).status).toBe(404);
    const other = await (await h.app.request("/v1/transcriptions", { headers: h.auth(h.otherKey) })).json();
    expect(other.data).toEqual([]);
  });

  it("pages newest first with a cursor", async () => {
    for (let i = 0; i < 3; i++) await upload({ file: { data: speech, name: `p${i}.wav` } });
    const first = await (await h.app.request("/v1/transcriptions?limit=2", { headers: h.auth() })).json();
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    const second = await (await h.app.request(`/v1/transcriptions?limit=2&cursor=${first.next_cursor}`, { headers: h.auth() })).json();
    const ids = [...first.data, ...second.data].map((j: { id: string }) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    const times = [...first.data, ...second.data].map((j: { created_at: string }) => j.created_at);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it("cancels a queued job and deletes its audio", async () => {
    const res = await upload({ file: { data: speech, name: "gone.wav" } });
    const { id } = await res.json();
    const before = await h.blobCount();
    const del = await h.app.request(`/v1/transcriptions/${id}`, { method: "DELETE", headers: h.auth() });
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ id, status: "canceled", audio: { deleted: true } });
    expect(await h.blobCount()).toBe(before - 1);
    expect((await h.app.request(`/v1/transcriptions/${id}`, { method: "DELETE", headers: h.auth(h.otherKey) })).status).toBe(404);
  });

  describe("errors, with nothing stored", () => {
    const expectRejected = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      const body = await res.json();
      expect(body).toEqual({ error: { code, message: expect.any(String) } });
    };
    const stored = async () => ({ blobs: await h.blobCount(), jobs: (await h.database.db.select().from(jobs)).length });

    it.each([
      ["no Authorization header", {}, 401, "unauthorized"],
      ["a wrong key", { Authorization: "Bearer sk_live_nope" }, 401, "unauthorized"],
    ])("401 for %s", async (_n, headers, status, code) => {
      await expectRejected(await h.app.request("/v1/transcriptions", { headers }), status, code);
    });

    it("400 for a multipart request without a file", async () => {
      const before = await stored();
      await expectRejected(await upload({ language: "en" }), 400, "missing_file");
      expect(await stored()).toEqual(before);
    });

    it("400 for an unknown language and for a private webhook target", async () => {
      const before = await stored();
      await expectRejected(await upload({ file: { data: speech, name: "x.wav" }, language: "klingon" }), 400, "invalid_language");
      await expectRejected(await upload({ file: { data: speech, name: "x.wav" }, webhook_url: "http://127.0.0.1:9/hook" }), 400, "invalid_webhook_url");
      expect(await stored()).toEqual(before);
    });

    it("413 for a file over the size cap", async () => {
      const before = await stored();
      const big = new Uint8Array(1_100_000);
      big.set(speech.subarray(0, 44));
      await expectRejected(await upload({ file: { data: big, name: "big.wav" } }), 413, "file_too_large");
      expect(await stored()).toEqual(before);
    });

    it("415 for a text file named .wav", async () => {
      const before = await stored();
      await expectRejected(await upload({ file: { data: new TextEncoder().encode("hello, this is not audio"), name: "fake.wav", type: "audio/wav" } }), 415, "unsupported_format");
      expect(await stored()).toEqual(before);
    });

    it("422 for audio that does not decode and for audio too long", async () => {
      const before = await stored();
      const truncated = speech.slice(0, 40);
      const res = await upload({ file: { data: truncated, name: "cut.wav" } });
      expect(res.status).toBe(422);
      await expectRejected(await upload({ file: { data: wav8k(61), name: "long.wav" } }), 422, "audio_too_long");
      expect(await stored()).toEqual(before);
    });

    it("404 for an unknown route and an unknown job", async () => {
      await expectRejected(await h.app.request("/v1/transcriptions/tr_missing", { headers: h.auth() }), 404, "not_found");
      await expectRejected(await h.app.request("/v1/nothing-here", { headers: h.auth() }), 404, "not_found");
    });

    it("400 for a malformed cursor", async () => {
      await expectRejected(await h.app.request("/v1/transcriptions?cursor=%%%", { headers: h.auth() }), 400, "invalid_cursor");
    });
  });
});

describe("OpenAPI", () => {
  let h: EdgeHarness;
  beforeAll(async () => {
    h = await edgeHarness("pglite");
  });
  afterAll(() => h.cleanup());

  it("serves the generated document without auth, and a docs page", async () => {
    const res = await h.app.request("/openapi.json");
    expect(res.status).toBe(200);
    const spec = await res.json();
    expect(spec.openapi).toBe("3.1.0");
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(["/v1/transcriptions", "/v1/transcriptions/{id}", "/v1/transcriptions/{id}/transcript", "/healthz"]));
    expect(spec.paths["/v1/transcriptions"].post.responses).toHaveProperty("415");
    const docs = await h.app.request("/docs");
    expect(docs.headers.get("content-type")).toMatch(/text\/html/);
    expect(await docs.text()).toContain("/openapi.json");
  });
});

describe("database outage", () => {
  it("answers 503 with Retry-After while the database is unreachable, for API and health", async () => {
    const h = await edgeHarness("postgres");
    try {
      await h.database.close();
      const res = await h.app.request("/v1/transcriptions", { headers: h.auth() });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect((await res.json()).error.code).toBe("service_unavailable");
      const health = await h.app.request("/healthz");
      expect(health.status).toBe(503);
    } finally {
      await h.cleanup();
    }
  });
});
