import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../edge/app.js";
import type { EdgeDeps } from "../../edge/deps.js";
import { nodeAudioProbe } from "../../edge/node-probe.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import { wholeObjectInspector } from "../../edge/upload/direct-uploads.js";
import { EdgeRelayUploads } from "../../edge/upload/presign.js";
import { FsBlobStore } from "../../shared/adapters/fs-blob-store.js";
import { parseServiceConfig } from "../../shared/config.js";
import { silentLogger } from "../../shared/logger.js";
import { testDatabase, type TestDatabase } from "../support/database.js";
import { RecordingQueue } from "../support/edge-harness.js";

const speech = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));
const truncatedMp3 = new Uint8Array(readFileSync(new URL("../fixtures/bad-inputs/files/mp3-cut-in-first-frame.mp3", import.meta.url)));

/**
 * Direct uploads on Node with the filesystem blob store: the upload URL points back to the API
 * (PUT /v1/uploads/{id}?token=…), over real HTTP, and the job is made from the stored file.
 */
describe("direct uploads on Node (filesystem store, relay URLs)", () => {
  let database: TestDatabase;
  let blobDir: string;
  let server: ServerType;
  let origin: string;
  let apiKey: string;
  let otherKey: string;
  let clock = new Date();
  const queue = new RecordingQueue();

  beforeAll(async () => {
    database = await testDatabase("postgres");
    blobDir = await mkdtemp(join(tmpdir(), "uploads-"));
    const blobs = new FsBlobStore(blobDir);
    // speech.wav (66 kB) is over the direct-upload limit here: only an upload URL takes it.
    const config = parseServiceConfig({ limits: { maxUploadBytes: 40_000, maxDurationSeconds: 60 } });
    const probeAudio = nodeAudioProbe(config.limits);
    const deps: EdgeDeps = {
      db: database.db,
      blobs,
      queue,
      config,
      probeAudio,
      logger: silentLogger,
      now: () => clock,
      uploads: { signer: new EdgeRelayUploads("a-local-secret-for-tests"), maxBytes: 100_000, urlTtlSeconds: 600, inspect: wholeObjectInspector(blobs, probeAudio) },
    };
    const app = createApp(deps);
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ key: apiKey } = await createApiKey(database.db, { name: "uploads" }));
    ({ key: otherKey } = await createApiKey(database.db, { name: "uploads-other" }));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await database.cleanup();
    await rm(blobDir, { recursive: true, force: true });
  });

  const auth = (key = apiKey) => ({ Authorization: `Bearer ${key}` });
  const newUpload = async (key = apiKey) => {
    const res = await fetch(`${origin}/v1/uploads`, { method: "POST", headers: auth(key) });
    expect(res.status).toBe(200);
    return (await res.json()) as { upload_id: string; url: string; method: string; expires_at: string; max_bytes: number };
  };
  const put = (url: string, body: Uint8Array<ArrayBuffer>) => fetch(url, { method: "PUT", headers: { "content-type": "audio/wav" }, body });
  const createFromUpload = (uploadId: string, key = apiKey) =>
    fetch(`${origin}/v1/transcriptions`, { method: "POST", headers: { ...auth(key), "content-type": "application/json" }, body: JSON.stringify({ upload_id: uploadId }) });

  it("uploads over HTTP to the URL it was given, then makes a job from the stored file, once", async () => {
    const direct = new FormData();
    direct.append("file", new Blob([speech]), "speech.wav");
    expect((await fetch(`${origin}/v1/transcriptions`, { method: "POST", headers: auth(), body: direct })).status).toBe(413);

    const upload = await newUpload();
    expect(upload).toMatchObject({ method: "PUT", max_bytes: 100_000, expires_at: new Date(clock.getTime() + 600_000).toISOString() });
    expect(upload.url).toMatch(new RegExp(`^${origin}/v1/uploads/${upload.upload_id}\\?token=[\\w-]+\\.[\\w-]+$`));
    const stored = await put(upload.url, speech);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toEqual({ object: "upload", upload_id: upload.upload_id, bytes: speech.length });

    const res = await createFromUpload(upload.upload_id);
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; duration_seconds: number; audio: { bytes: number } };
    expect(job.audio.bytes).toBe(speech.length);
    expect(job.duration_seconds).toBeCloseTo((speech.length - 44) / 2 / 16000, 1); // decoded, as for any upload on Node
    expect(queue.sent.map((m) => m.jobId)).toContain(job.id);
    const [row] = await database.sql`select audio_key from jobs where id = ${job.id}`;
    expect(new Uint8Array(await readFile(join(blobDir, String(row.audio_key))))).toEqual(speech);

    expect((await createFromUpload(upload.upload_id)).status).toBe(404);
  });

  it("belongs to the key that created it", async () => {
    const upload = await newUpload();
    expect((await put(upload.url, speech)).status).toBe(200);
    expect((await createFromUpload(upload.upload_id, otherKey)).status).toBe(404);
    expect((await createFromUpload(upload.upload_id)).status).toBe(202);
  });

  it("makes one job when two requests race with the same upload id", async () => {
    const upload = await newUpload();
    await put(upload.url, speech);
    const statuses = (await Promise.all([createFromUpload(upload.upload_id), createFromUpload(upload.upload_id), createFromUpload(upload.upload_id)])).map((r) => r.status);
    expect(statuses.sort()).toEqual([202, 404, 404]);
  });

  it("checks the stored file like an upload (415, 422 from decoding)", async () => {
    const text = await newUpload();
    await put(text.url, new TextEncoder().encode("not audio at all"));
    expect((await createFromUpload(text.upload_id)).status).toBe(415);
    const broken = await newUpload();
    await put(broken.url, truncatedMp3);
    const res = await createFromUpload(broken.upload_id);
    expect(res.status).toBe(422);
  });

  it("refuses a PUT with a forged or expired token, another upload's id, or more than max_bytes", async () => {
    const upload = await newUpload();
    const forged = new URL(upload.url);
    forged.searchParams.set("token", `${forged.searchParams.get("token")}x`);
    expect((await put(forged.toString(), speech)).status).toBe(403);
    expect((await put(upload.url.replace(upload.upload_id, `up_${"0".repeat(24)}`), speech)).status).toBe(403);
    expect((await put(upload.url, new Uint8Array(100_001))).status).toBe(413);
    clock = new Date(clock.getTime() + 601_000);
    try {
      expect((await put(upload.url, speech)).status).toBe(403);
    } finally {
      clock = new Date();
    }
  });

  it("lists the upload routes in /openapi.json", async () => {
    const spec = (await (await fetch(`${origin}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    expect(spec.paths["/v1/uploads"]?.post).toBeDefined();
    expect(spec.paths["/v1/uploads/{id}"]?.put?.security).toEqual([]);
  });
});

describe("direct uploads when not configured", () => {
  it("answers 404 on POST /v1/uploads", async () => {
    const database = await testDatabase("postgres");
    try {
      const config = parseServiceConfig({});
      const blobs = new FsBlobStore(join(tmpdir(), "unused-blobs"));
      const app = createApp({ db: database.db, blobs, queue: new RecordingQueue(), config, probeAudio: nodeAudioProbe(config.limits), logger: silentLogger });
      const { key } = await createApiKey(database.db, { name: "no-uploads" });
      const res = await app.request("/v1/uploads", { method: "POST", headers: { Authorization: `Bearer ${key}` } });
      expect(res.status).toBe(404);
    } finally {
      await database.cleanup();
    }
  });
});
