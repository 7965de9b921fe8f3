/**
 * Abuse through upload URLs and quotas, over a real HTTP server on real PostgreSQL: an upload URL takes one PUT
 * for one key until it expires and makes one job; unused uploads are swept with their blobs; a quota holds when
 * fifty requests race for it.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { jobs, uploads } from "../../db/schema.js";
import { revokeApiKey } from "../../edge/store/api-key-admin.js";
import { UNUSED_UPLOAD_RETENTION_MS } from "../../edge/store/uploads.js";
import { speechWav, startApiStack, wavForm, type ApiStack } from "./api-stack.js";
import { vector } from "./vectors.js";

let stack: ApiStack;
beforeAll(async () => {
  stack = await startApiStack("postgres");
});
afterAll(() => stack.close());

interface UploadTicket {
  upload_id: string;
  url: string;
  expires_at: string;
}
const newUpload = async (key = stack.apiKey): Promise<UploadTicket> => {
  const res = await fetch(`${stack.origin}/v1/uploads`, { method: "POST", headers: stack.auth(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as UploadTicket;
};
const put = (url: string, body: Uint8Array = speechWav) =>
  fetch(url, { method: "PUT", headers: { "content-type": "audio/wav" }, body: body as Uint8Array<ArrayBuffer> });
const createFromUpload = (uploadId: string, key = stack.apiKey) =>
  fetch(`${stack.origin}/v1/transcriptions`, { method: "POST", headers: { ...stack.auth(key), "content-type": "application/json" }, body: JSON.stringify({ upload_id: uploadId }) });
/** A different, longer file: what an attacker would swap in to be transcribed past the checks. */
const otherAudio = new Uint8Array(speechWav.length * 2);
otherAudio.set(speechWav);

describe("upload URLs are single-use", () => {
  vector("a second PUT to a used URL is refused and the job's audio stays what was checked", async () => {
    const ticket = await newUpload();
    expect((await put(ticket.url)).status).toBe(200);
    const created = await createFromUpload(ticket.upload_id);
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const again = await put(ticket.url, otherAudio);
    expect(again.status).toBe(403);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    const [job] = await stack.database.db.select().from(jobs).where(eq(jobs.id, id));
    const stored = (await stack.blobs()).find((b) => b.path.endsWith(job.audioKey!));
    expect(stored?.bytes.length).toBe(speechWav.length);
  });

  vector("a second PUT before the job exists is refused (one file per URL)", async () => {
    const ticket = await newUpload();
    expect((await put(ticket.url)).status).toBe(200);
    expect((await put(ticket.url, otherAudio)).status).toBe(403);
  });

  vector("ten PUTs racing on one URL: exactly one is stored", async () => {
    const ticket = await newUpload();
    const statuses = await Promise.all(Array.from({ length: 10 }, () => put(ticket.url).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 403)).toHaveLength(9);
  });

  vector("a PUT after the job was deleted is refused", async () => {
    const ticket = await newUpload();
    expect((await put(ticket.url)).status).toBe(200);
    const { id } = (await (await createFromUpload(ticket.upload_id)).json()) as { id: string };
    expect((await fetch(`${stack.origin}/v1/transcriptions/${id}`, { method: "DELETE", headers: stack.auth() })).status).toBe(200);
    expect((await put(ticket.url, otherAudio)).status).toBe(403);
    expect((await stack.blobs()).some((b) => b.path.includes(ticket.upload_id))).toBe(false);
  });

  vector("a PUT after the key was revoked is refused", async () => {
    const key = await stack.newKey();
    const ticket = await newUpload(key.key);
    await revokeApiKey(stack.database.db, key.id);
    expect((await put(ticket.url)).status).toBe(403);
  });

  vector("a job cannot be made from an upload whose PUT never arrived", async () => {
    const ticket = await newUpload();
    expect((await createFromUpload(ticket.upload_id)).status).toBe(404);
  });

  vector("another key cannot make a job from the upload", async () => {
    const other = await stack.newKey();
    const ticket = await newUpload();
    expect((await put(ticket.url)).status).toBe(200);
    expect((await createFromUpload(ticket.upload_id, other.key)).status).toBe(404);
  });

  vector("an unused upload expires: its URL is refused, then its row and blob are swept", async () => {
    const ticket = await newUpload();
    expect((await put(ticket.url)).status).toBe(200);
    const start = stack.clock.now;
    try {
      stack.clock.now = new Date(Date.parse(ticket.expires_at) + 1000);
      expect((await put(ticket.url)).status).toBe(403);
      stack.clock.now = new Date(Date.parse(ticket.expires_at) + UNUSED_UPLOAD_RETENTION_MS + 1000);
      await newUpload(); // the sweep runs on the request path
      expect((await stack.blobs()).some((b) => b.path.includes(ticket.upload_id))).toBe(false);
      expect(await stack.database.db.select().from(uploads).where(eq(uploads.id, ticket.upload_id))).toEqual([]);
      expect((await createFromUpload(ticket.upload_id)).status).toBe(404);
    } finally {
      stack.clock.now = start;
    }
  });
});

describe("quotas hold under concurrency", () => {
  vector("fifty parallel uploads against a quota for two: two are accepted", async () => {
    // speech.wav lasts 2.06 s, reserved as 3 s: a 6 s quota takes two jobs.
    const key = await stack.newKey({ monthlyAudioSecondsQuota: 6 });
    const statuses = await Promise.all(
      Array.from({ length: 50 }, () =>
        fetch(`${stack.origin}/v1/transcriptions`, { method: "POST", headers: stack.auth(key.key), body: wavForm() }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 202)).toHaveLength(2);
    expect(statuses.filter((s) => s === 429)).toHaveLength(48);
    expect(await stack.database.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.apiKeyId, key.id))).toHaveLength(2);
  }, 120_000);

  vector("twenty parallel requests against a rate limit of five: five pass", async () => {
    // Writes: reads (polling, listing) have a budget of their own, never below the key's.
    const key = await stack.newKey({ rateLimitPerMinute: 5 });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () => fetch(`${stack.origin}/v1/uploads`, { method: "POST", headers: stack.auth(key.key) }).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s >= 200 && s < 300)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });
});
