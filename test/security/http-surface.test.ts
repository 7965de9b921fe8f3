/**
 * What a caller sees over a real socket: RateLimit fields on every /v1 answer, no body read before the caller is
 * known, DELETE leaving no copy of the text, and no 500 for any malformed id, query parameter or header.
 */
import { request } from "node:http";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { jobChunks, jobs, transcripts } from "../../db/schema.js";
import { saveChunk } from "../../gpu-worker/store.js";
import { speechWav, startApiStack, wavForm, type ApiStack } from "./api-stack.js";
import { vector, vectors } from "./vectors.js";

let stack: ApiStack;
beforeAll(async () => {
  stack = await startApiStack("postgres", { openai: { waitSeconds: 1 } });
});
afterAll(() => stack.close());

const RATE_LIMIT_FIELDS = ["ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"];

const createJob = async (audio: Uint8Array = speechWav): Promise<string> => {
  const res = await fetch(`${stack.origin}/v1/transcriptions`, { method: "POST", headers: stack.auth(), body: wavForm(audio) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
};

describe("RateLimit fields over a real socket", () => {
  const cases: { name: string; send: () => Promise<Response>; status: number }[] = [
    { name: "200 list", send: () => fetch(`${stack.origin}/v1/transcriptions`, { headers: stack.auth() }), status: 200 },
    { name: "202 create", send: () => fetch(`${stack.origin}/v1/transcriptions`, { method: "POST", headers: stack.auth(), body: wavForm() }), status: 202 },
    { name: "200 usage", send: () => fetch(`${stack.origin}/v1/usage`, { headers: stack.auth() }), status: 200 },
    { name: "200 upload URL", send: () => fetch(`${stack.origin}/v1/uploads`, { method: "POST", headers: stack.auth() }), status: 200 },
    { name: "404 job", send: () => fetch(`${stack.origin}/v1/transcriptions/tr_000000000000000000000000`, { headers: stack.auth() }), status: 404 },
    { name: "400 query", send: () => fetch(`${stack.origin}/v1/transcriptions?limit=0`, { headers: stack.auth() }), status: 400 },
  ];
  vectors(cases, (c) => `${c.name} carries the RateLimit fields and X-Request-Id`, async (c) => {
    const res = await c.send();
    expect(res.status).toBe(c.status);
    for (const field of RATE_LIMIT_FIELDS) expect(res.headers.get(field), field).toBeTruthy();
    expect(res.headers.get("x-request-id")).toBeTruthy();
    await res.body?.cancel();
  });
});

describe("no body is read before the caller is known", () => {
  vector("a chunked upload without Authorization is answered 401 while its body is still being sent", async () => {
    const url = new URL(`${stack.origin}/v1/transcriptions`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "multipart/form-data; boundary=x", "transfer-encoding": "chunked" } });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", (error) => (error.message.includes("socket hang up") ? undefined : reject(error)));
      // One megabyte is sent and the request is never ended: only an answer that needs no body can arrive.
      req.write(Buffer.alloc(1024 * 1024, 0x41));
    });
    expect(status).toBe(401);
  }, 15_000);

  vector("a chunked upload with a revoked key is answered 401 before its body ends", async () => {
    const url = new URL(`${stack.origin}/v1/transcriptions`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: url.hostname, port: url.port, path: url.pathname, method: "POST",
        headers: { authorization: "Bearer sk_not_a_key", "content-type": "multipart/form-data; boundary=x", "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", (error) => (error.message.includes("socket hang up") ? undefined : reject(error)));
      req.write(Buffer.alloc(1024 * 1024, 0x41));
    });
    expect(status).toBe(401);
  }, 15_000);
});

describe("DELETE removes every copy of the text and the audio", () => {
  vector("after DELETE no row of any table and no blob holds the transcript or the audio", async () => {
    // A file no other test uploads: a few samples changed, so its bytes can be looked for in every blob.
    const audio = speechWav.slice();
    audio.set(Buffer.from("unique-audio-of-the-delete-test"), 2000);
    const id = await createJob(audio);
    const secret = "the launch code is swordfish";
    // What the worker writes for a long file: per-chunk results, then the transcript.
    await stack.database.db.update(jobs).set({ status: "processing" }).where(sql`${jobs.id} = ${id}`);
    await saveChunk(stack.database.db, { jobId: id, chunkIndex: 0, startSeconds: 0, endSeconds: 2, text: secret });
    await stack.database.db.insert(transcripts).values({ jobId: id, text: secret, segments: [{ id: 0, start: 0, end: 2, text: secret }] });
    await stack.database.db.update(jobs).set({ status: "completed" }).where(sql`${jobs.id} = ${id}`);
    expect((await stack.blobs()).some((b) => b.bytes.equals(audio))).toBe(true);

    expect((await fetch(`${stack.origin}/v1/transcriptions/${id}`, { method: "DELETE", headers: stack.auth() })).status).toBe(200);

    // A chunk the worker finishes after the DELETE must not bring the text back.
    await saveChunk(stack.database.db, { jobId: id, chunkIndex: 1, startSeconds: 2, endSeconds: 4, text: secret });
    const tables = await stack.database.db.execute<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`,
    );
    expect(tables.length).toBeGreaterThan(5);
    for (const { table_name } of tables) {
      const [row] = await stack.database.db.execute<{ n: number }>(
        sql`select count(*)::int as n from ${sql.identifier(table_name)} t where t::text like ${"%" + secret + "%"}`,
      );
      expect(row.n, table_name).toBe(0);
    }
    expect(await stack.database.db.select().from(jobChunks).where(sql`${jobChunks.jobId} = ${id}`)).toEqual([]);
    expect((await stack.blobs()).some((b) => b.bytes.includes(Buffer.from("unique-audio-of-the-delete-test")))).toBe(false);
  });
});

describe("the OpenAI route after DELETE", () => {
  vector("a retried upload whose earlier job was deleted makes a new job instead of a 500", async () => {
    const send = () => {
      const form = wavForm();
      form.append("model", "qwen3-asr");
      return fetch(`${stack.origin}/v1/audio/transcriptions`, { method: "POST", headers: stack.auth(), body: form });
    };
    const first = await send();
    expect(first.status).toBe(503); // no worker here: still running after waitSeconds
    const [job] = await stack.database.db.select().from(jobs).where(sql`${jobs.apiKeyId} = ${stack.apiKeyId}`).orderBy(sql`${jobs.createdAt} desc`).limit(1);
    await stack.database.db.update(jobs).set({ status: "completed" }).where(sql`${jobs.id} = ${job.id}`);
    expect((await fetch(`${stack.origin}/v1/transcriptions/${job.id}`, { method: "DELETE", headers: stack.auth() })).status).toBe(200);
    const retry = await send();
    expect(retry.status).toBe(503);
    const newest = await stack.database.db.select().from(jobs).where(sql`${jobs.apiKeyId} = ${stack.apiKeyId}`).orderBy(sql`${jobs.createdAt} desc`).limit(1);
    expect(newest[0].id).not.toBe(job.id);
  });
});

describe("malformed parameters, ids and headers are 4xx in the error envelope", () => {
  const expectClientError = async (res: Response, what: string) => {
    expect(res.status, what).toBeGreaterThanOrEqual(400);
    expect(res.status, what).toBeLessThan(500);
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    expect(typeof body.error?.message, what).toBe("string");
  };
  const b64 = (text: string) => Buffer.from(text).toString("base64url");
  const known: { name: string; path: string; method?: string }[] = [
    { name: "usage from far in the past", path: "/v1/usage?from=-271821-04-20T00:00:00Z" },
    { name: "usage to past year 9999", path: "/v1/usage?to=%2B275760-09-13T00:00:00Z" },
    { name: "usage from year 0", path: "/v1/usage?from=0000-01-01" },
    { name: "usage from a bare number", path: "/v1/usage?from=1" },
    { name: "a NUL in a job id", path: "/v1/transcriptions/tr_%00abc" },
    { name: "a NUL in a transcript id", path: "/v1/transcriptions/%00/transcript" },
    { name: "a NUL in a deleted id", path: "/v1/transcriptions/tr_%00", method: "DELETE" },
    { name: "a NUL in a webhook id", path: "/v1/transcriptions/%00/webhooks" },
    { name: "a NUL in a redeliver id", path: "/v1/transcriptions/%00/webhooks/redeliver", method: "POST" },
    { name: "a 5000-character id", path: `/v1/transcriptions/tr_${"a".repeat(5000)}` },
    { name: "a cursor past year 9999", path: `/v1/transcriptions?cursor=${b64("+010000-01-01T00:00:00.000Z|tr_000000000000000000000000")}` },
    { name: "a cursor before year 1", path: `/v1/transcriptions?cursor=${b64("-000001-01-01T00:00:00.000Z|tr_000000000000000000000000")}` },
    { name: "a cursor with a NUL id", path: `/v1/transcriptions?cursor=${b64("2026-01-01T00:00:00.000Z|tr_\u0000")}` },
    { name: "a limit of 1e400", path: "/v1/transcriptions?limit=1e400" },
    { name: "an unknown transcript format", path: "/v1/transcriptions/tr_000000000000000000000000/transcript?format=exe" },
    { name: "an upload id with a NUL", path: "/v1/uploads/up_%00?token=a.b", method: "PUT" },
  ];
  vectors(known, (c) => `${c.name} → 4xx`, async (c) => {
    await expectClientError(await fetch(`${stack.origin}${c.path}`, { method: c.method ?? "GET", headers: stack.auth() }), c.name);
  });

  const multipartCases: { name: string; contentType: string; body: string | Uint8Array }[] = [
    { name: "no boundary", contentType: "multipart/form-data", body: "--x\r\n" },
    { name: "a body cut in the middle of a part", contentType: "multipart/form-data; boundary=x", body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF' },
    { name: "a 100 kB text field", contentType: "multipart/form-data; boundary=x", body: `--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n${"p".repeat(100_000)}\r\n--x--\r\n` },
    { name: "a thousand parts", contentType: "multipart/form-data; boundary=x", body: `${'--x\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n'.repeat(1000)}--x--\r\n` },
    { name: "garbage", contentType: "multipart/form-data; boundary=x", body: crypto.getRandomValues(new Uint8Array(4096)) },
  ];
  vectors(multipartCases, (c) => `a multipart body with ${c.name} → 4xx, nothing stored`, async (c) => {
    const before = (await stack.blobs()).length;
    for (const path of ["/v1/transcriptions", "/v1/audio/transcriptions"]) {
      const res = await fetch(`${stack.origin}${path}`, { method: "POST", headers: { ...stack.auth(), "content-type": c.contentType }, body: c.body as BodyInit });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      await res.body?.cancel();
    }
    expect((await stack.blobs()).length).toBe(before);
  });

  const hostile = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.constantFrom("\u0000", "%", "..", "../../etc/passwd", "-1", "1e309", "NaN", "9".repeat(400), "tr_" + "z".repeat(24) + "\u0000", "+275760-09-13", "-271821-04-20"),
  );
  const routes: { name: string; url: (v: string) => string; method?: string }[] = [
    { name: "GET /v1/transcriptions/{id}", url: (v) => `/v1/transcriptions/${encodeURIComponent(v)}` },
    { name: "GET /v1/transcriptions/{id}/transcript", url: (v) => `/v1/transcriptions/${encodeURIComponent(v)}/transcript?format=${encodeURIComponent(v)}` },
    { name: "DELETE /v1/transcriptions/{id}", url: (v) => `/v1/transcriptions/${encodeURIComponent(v)}`, method: "DELETE" },
    { name: "GET /v1/transcriptions/{id}/webhooks", url: (v) => `/v1/transcriptions/${encodeURIComponent(v)}/webhooks` },
    { name: "POST /v1/transcriptions/{id}/webhooks/redeliver", url: (v) => `/v1/transcriptions/${encodeURIComponent(v)}/webhooks/redeliver`, method: "POST" },
    { name: "GET /v1/transcriptions?limit&cursor", url: (v) => `/v1/transcriptions?limit=${encodeURIComponent(v)}&cursor=${encodeURIComponent(v)}` },
    { name: "GET /v1/transcriptions?cursor (base64 of junk)", url: (v) => `/v1/transcriptions?cursor=${b64(`${v}|${v}`)}` },
    { name: "GET /v1/usage?from&to", url: (v) => `/v1/usage?from=${encodeURIComponent(v)}` },
    { name: "GET /v1/usage?to", url: (v) => `/v1/usage?to=${encodeURIComponent(v)}` },
    { name: "PUT /v1/uploads/{id}?token", url: (v) => `/v1/uploads/${encodeURIComponent(v)}?token=${encodeURIComponent(v)}`, method: "PUT" },
  ];
  vectors(routes, (r) => `fuzzed ids and query parameters of ${r.name} never answer 5xx`, async (route) => {
    await fc.assert(
      fc.asyncProperty(hostile, async (value) => {
        const res = await fetch(`${stack.origin}${route.url(value)}`, { method: route.method ?? "GET", headers: stack.auth() });
        expect(res.status, JSON.stringify(value)).toBeLessThan(500);
        if (res.status >= 400) await expectClientError(res, JSON.stringify(value));
        else await res.body?.cancel();
      }),
      { numRuns: 40 },
    );
  }, 60_000);

  vector("fuzzed Idempotency-Key, Content-Type and Authorization headers never answer 5xx", async () => {
    const headerValue = fc.string({ maxLength: 300 }).map((s) => s.replace(/[^\t\x20-\x7e]/g, "")); // what HTTP lets a header carry
    await fc.assert(
      fc.asyncProperty(headerValue, headerValue, headerValue, async (idempotencyKey, contentType, authorization) => {
        for (const headers of <Record<string, string>[]>[
          { ...stack.auth(), "idempotency-key": idempotencyKey, "content-type": contentType || "application/json" },
          { authorization },
        ]) {
          const res = await fetch(`${stack.origin}/v1/transcriptions`, { method: "POST", headers, body: JSON.stringify({ audio_url: "https://example.com/a.wav" }) });
          expect(res.status, JSON.stringify(headers)).toBeLessThan(500);
          await res.body?.cancel();
        }
      }),
      { numRuns: 30 },
    );
  }, 60_000);
});
