/**
 * What a new user meets in their first hour (issue 20), through a real HTTP server since most of it is headers:
 * reads with a budget of their own and a poll interval, transcript media types, one language form, a deleted
 * transcript that says so, and private-target refusals that name the setting which allows them.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs, transcripts } from "../../db/schema.js";
import { localAllowPrivateTargets } from "../../dev/local-targets.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import type { ServiceConfigInput } from "../../shared/config.js";
import { edgeHarness, multipart, type EdgeHarness } from "../support/edge-harness.js";

const speech = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));

interface Served {
  h: EdgeHarness;
  url: string;
  close(): Promise<void>;
}

async function served(config: ServiceConfigInput, now?: () => Date): Promise<Served> {
  const h = await edgeHarness("postgres", config, { now });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: h.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    h,
    url,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await h.cleanup();
    },
  };
}

describe("first hour with the API, over a real socket", () => {
  let s: Served;
  beforeAll(async () => {
    s = await served({ rateLimits: { requestsPerMinute: 1000, readsPerMinute: 1000 } });
  });
  afterAll(() => s?.close());

  const get = (path: string, key = s.h.apiKey) => fetch(s.url + path, { headers: { Authorization: `Bearer ${key}` } });
  const create = async (): Promise<string> => {
    const res = await fetch(`${s.url}/v1/transcriptions`, {
      method: "POST",
      headers: s.h.auth(),
      body: multipart({ file: { data: speech, name: "speech.wav", type: "audio/wav" } }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  /** What the worker leaves behind: completed, with the model's name for the language. */
  const complete = async (id: string) => {
    await s.h.database.db.insert(transcripts).values({
      jobId: id,
      text: "Set a timer for five minutes.",
      segments: [{ id: 0, start: 0, end: 2.063, text: "Set a timer for five minutes." }],
      language: "English",
    });
    await s.h.database.db.update(jobs).set({ status: "completed", progress: 1, completedAt: new Date(), detectedLanguage: "English" }).where(eq(jobs.id, id));
  };

  it("recommends a poll interval (Retry-After) while a job runs, and none once it is done", async () => {
    const id = await create();
    const running = await get(`/v1/transcriptions/${id}`);
    expect(running.status).toBe(200);
    expect(running.headers.get("retry-after")).toBe("2");
    const early = await get(`/v1/transcriptions/${id}/transcript`);
    expect(early.status).toBe(409);
    expect(early.headers.get("retry-after")).toBe("2");
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe("transcript_not_ready");
    await complete(id);
    const done = await get(`/v1/transcriptions/${id}`);
    expect(done.headers.get("retry-after")).toBeNull();
  });

  it("serves SRT and WebVTT with their media types, and one language form in the job and the transcript", async () => {
    const id = await create();
    await complete(id);
    const srt = await get(`/v1/transcriptions/${id}/transcript?format=srt`);
    expect(srt.headers.get("content-type")).toBe("application/x-subrip; charset=utf-8");
    expect(await srt.text()).toContain("00:00:00,000 --> 00:00:02,063");
    const vtt = await get(`/v1/transcriptions/${id}/transcript?format=vtt`);
    expect(vtt.headers.get("content-type")).toBe("text/vtt; charset=utf-8");
    expect(await vtt.text()).toMatch(/^WEBVTT\n/);
    const txt = await get(`/v1/transcriptions/${id}/transcript?format=txt`);
    expect(txt.headers.get("content-type")).toBe("text/plain; charset=utf-8");

    const job = (await (await get(`/v1/transcriptions/${id}`)).json()) as { language: string };
    const json = await get(`/v1/transcriptions/${id}/transcript?format=json`);
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);
    const transcript = (await json.json()) as { language: string; text: string };
    expect(job.language).toBe("en");
    expect(transcript.language).toBe(job.language);
    expect(transcript.text).toBe("Set a timer for five minutes.");
  });

  it("answers 410 transcript_deleted after DELETE, for a completed and for an unfinished job", async () => {
    for (const finished of [true, false]) {
      const id = await create();
      if (finished) await complete(id);
      const del = await fetch(`${s.url}/v1/transcriptions/${id}`, { method: "DELETE", headers: s.h.auth() });
      expect(del.status).toBe(200);
      const after = await get(`/v1/transcriptions/${id}/transcript?format=srt`);
      expect(after.status).toBe(410);
      const body = (await after.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("transcript_deleted");
      expect(body.error.message).toMatch(/deleted/);
      // The job itself is still there to look at, with its audio marked deleted.
      const job = (await (await get(`/v1/transcriptions/${id}`)).json()) as { audio: { deleted: boolean } };
      expect(job.audio.deleted).toBe(true);
    }
  });

  it("refuses private audio_url and webhook_url targets naming ALLOW_PRIVATE_TARGETS", async () => {
    const json = (body: unknown) =>
      fetch(`${s.url}/v1/transcriptions`, { method: "POST", headers: { ...s.h.auth(), "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const audio = await json({ audio_url: "http://127.0.0.1:9/speech.wav" });
    expect(audio.status).toBe(400);
    const audioError = ((await audio.json()) as { error: { code: string; message: string } }).error;
    expect(audioError.code).toBe("invalid_audio_url");
    expect(audioError.message).toContain("ALLOW_PRIVATE_TARGETS=127.0.0.1");

    const hook = await fetch(`${s.url}/v1/transcriptions`, {
      method: "POST",
      headers: s.h.auth(),
      body: multipart({ file: { data: speech, name: "speech.wav" }, webhook_url: "http://localhost:9000/hook" }),
    });
    expect(hook.status).toBe(400);
    const hookError = ((await hook.json()) as { error: { code: string; message: string } }).error;
    expect(hookError.code).toBe("invalid_webhook_url");
    expect(hookError.message).toContain("ALLOW_PRIVATE_TARGETS=localhost");

    // A refusal that no setting lifts does not suggest one.
    const scheme = await json({ audio_url: "ftp://example.com/a.wav" });
    expect(((await scheme.json()) as { error: { message: string } }).error.message).not.toContain("ALLOW_PRIVATE_TARGETS");
  });
});

describe("rate limits: reads have their own budget", () => {
  let s: Served;
  beforeAll(async () => {
    // A fixed clock: every request falls in the same one-minute window, so the counts cannot race its end.
    const fixed = new Date("2026-12-07T12:00:10Z");
    s = await served({ rateLimits: { requestsPerMinute: 3, readsPerMinute: 8 } }, () => fixed);
  });
  afterAll(() => s?.close());

  it("lets a key poll past its request limit, counts reads and writes apart, and labels each budget", async () => {
    const { key } = await createApiKey(s.h.database.db, { name: "poller" });
    const reads: Response[] = [];
    for (let i = 0; i < 9; i++) reads.push(await fetch(`${s.url}/v1/transcriptions`, { headers: { Authorization: `Bearer ${key}` } }));
    expect(reads.slice(0, 8).map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(reads[0].headers.get("ratelimit-policy")).toBe('"reads";q=8;w=60');
    expect(reads[0].headers.get("ratelimit")).toMatch(/^"reads";r=7;t=\d+$/);
    expect(reads[7].headers.get("ratelimit-remaining")).toBe("0");
    expect(reads[8].status).toBe(429);
    expect(Number(reads[8].headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await reads[8].json()) as { error: { message: string } }).error.message).toContain("8 read requests (GET) per minute");

    // The reads spent nothing of the write budget.
    const write = await fetch(`${s.url}/v1/transcriptions`, { method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: "{}" });
    expect(write.status).toBe(400);
    expect(write.headers.get("ratelimit-policy")).toBe('"minute";q=3;w=60');
    expect(write.headers.get("ratelimit")).toMatch(/^"minute";r=2;t=\d+$/);
  });
});

describe("npm start's private targets", () => {
  it("allows this machine's loopback when nothing is configured, and keeps a configured list as it is", () => {
    expect(localAllowPrivateTargets([])).toEqual(["127.0.0.1", "localhost", "::1"]);
    expect(localAllowPrivateTargets(["10.0.0.5"])).toEqual(["10.0.0.5"]);
  });
});
