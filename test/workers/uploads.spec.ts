import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import worker from "../../edge/worker.js";
import type { WorkerEnv } from "../../edge/workers/env.js";
import type { R2BucketLike } from "../../shared/adapters/r2-blob-store.js";
import { presignedPutIsValid } from "./sigv4-presign.js";
import { auth, callWorker, fileForm, nodeSide, wavTone } from "./worker-client.js";
import { workerTestVars } from "./worker-vars.js";

const bucket = env.UPLOADS_BUCKET as R2BucketLike;
const json = { "content-type": "application/json" };

interface Upload {
  upload_id: string;
  url: string;
  method: string;
  expires_at: string;
  max_bytes: number;
}

async function newUpload(key?: string): Promise<Upload> {
  const res = await callWorker("/v1/uploads", { method: "POST", headers: auth(key) });
  expect(res.status).toBe(200);
  return (await res.json()) as Upload;
}

const createFromUpload = (uploadId: string, key?: string) =>
  callWorker("/v1/transcriptions", { method: "POST", headers: { ...auth(key), ...json }, body: JSON.stringify({ upload_id: uploadId, language: "en" }) });

/** What a client's PUT to the presigned URL leaves in R2 (miniflare has no S3 endpoint): the object under the URL's key. */
async function putThroughBinding(upload: Upload, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const key = decodeURIComponent(new URL(upload.url).pathname).replace(`/${workerTestVars.R2_BUCKET_NAME}/`, "");
  await bucket.put(key, bytes, { httpMetadata: { contentType: "audio/wav" } });
  return key;
}

describe("direct uploads on workerd: presigned PUTs to R2", () => {
  it("returns a SigV4 presigned PUT URL for R2's S3 endpoint", async () => {
    const before = Date.now();
    const upload = await newUpload();
    expect(upload).toMatchObject({ object: "upload", method: "PUT", max_bytes: Number(workerTestVars.UPLOAD_MAX_BYTES) });
    expect(upload.upload_id).toMatch(/^up_[0-9a-z]{24}$/);
    expect(Date.parse(upload.expires_at) - before).toBeGreaterThan(590_000);
    const url = new URL(upload.url);
    expect(url.origin).toBe(workerTestVars.R2_S3_ENDPOINT);
    expect(url.pathname).toMatch(new RegExp(`^/${workerTestVars.R2_BUCKET_NAME}/uploads/[0-9a-f-]{36}/${upload.upload_id}$`));
    expect(url.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(new RegExp(`^${workerTestVars.R2_ACCESS_KEY_ID}/\\d{8}/auto/s3/aws4_request$`));
    expect(url.searchParams.get("X-Amz-Expires")).toBe(workerTestVars.UPLOAD_URL_TTL_SECONDS);
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    expect(await presignedPutIsValid(url, workerTestVars.R2_SECRET_ACCESS_KEY)).toBe(true);
    expect(await presignedPutIsValid(url, "another-secret")).toBe(false);
  });

  it("makes a job from a file larger than a request may be, without copying it; the upload id is single-use", async () => {
    const audio = wavTone(10, { sampleRate: 48_000, channels: 2, bits: 16 }); // 1.92 MB: over MAX_UPLOAD_BYTES
    expect(audio.length).toBeGreaterThan(Number(workerTestVars.MAX_UPLOAD_BYTES));
    const direct = await callWorker("/v1/transcriptions", { method: "POST", headers: auth(), body: fileForm(audio, "big.wav") });
    expect(direct.status).toBe(413);

    const upload = await newUpload();
    const key = await putThroughBinding(upload, audio);
    const res = await createFromUpload(upload.upload_id);
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; duration_seconds: number; audio: { bytes: number; content_type: string } };
    expect(job).toMatchObject({ duration_seconds: 10, audio: { bytes: audio.length, content_type: "audio/wav" } });

    const stored = await nodeSide.job(job.id);
    expect(stored?.job).toMatchObject({ audioKey: key, audioBytes: audio.length, language: "en" });
    expect(await nodeSide.messageFor(job.id)).toMatchObject({ v: 1, jobId: job.id });
    expect((await bucket.head(key))?.size).toBe(audio.length);

    const again = await createFromUpload(upload.upload_id);
    expect(again.status).toBe(404);
    expect((await again.json()) as unknown).toMatchObject({ error: { code: "not_found" } });
  });

  it("404s an upload id sent with another key, or before anything was PUT", async () => {
    const upload = await newUpload();
    expect((await createFromUpload(upload.upload_id)).status).toBe(404); // nothing uploaded yet
    await putThroughBinding(upload, wavTone(1));
    expect((await createFromUpload(upload.upload_id, inject("otherApiKey"))).status).toBe(404);
    expect((await createFromUpload(upload.upload_id)).status).toBe(202); // the owner's request still works
    expect((await createFromUpload("up_not_an_upload")).status).toBe(404);
  });

  it("checks the stored object like an upload: 415, 422 from its headers, 413 over max_bytes", async () => {
    const text = await newUpload();
    await putThroughBinding(text, new TextEncoder().encode("this is not audio, whatever its name says\n"));
    const notAudio = await createFromUpload(text.upload_id);
    expect(notAudio.status).toBe(415);

    const long = await newUpload();
    await putThroughBinding(long, wavTone(61));
    const tooLong = await createFromUpload(long.upload_id);
    expect(tooLong.status).toBe(422);
    expect((await tooLong.json()) as unknown).toMatchObject({ error: { code: "audio_too_long" } });

    const big = await newUpload();
    await putThroughBinding(big, wavTone(21, { sampleRate: 48_000, channels: 2, bits: 16 })); // 4.03 MB
    const tooBig = await createFromUpload(big.upload_id);
    expect(tooBig.status).toBe(413);
  });
});

describe("direct uploads on workerd: URLs back to the Worker (no R2 S3 credentials)", () => {
  const relayEnv = (): WorkerEnv => ({
    ...(env as unknown as WorkerEnv),
    R2_S3_ENDPOINT: "",
    UPLOAD_SIGNING_SECRET: "a-test-secret-of-some-length",
    UPLOAD_MAX_BYTES: "100000",
  });

  async function callRelayWorker(path: string, init: RequestInit = {}): Promise<Response> {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(new URL(path, "https://edge.test"), init), relayEnv(), ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  it("streams the PUT into R2 and makes a job from it", async () => {
    const created = await callRelayWorker("/v1/uploads", { method: "POST", headers: auth() });
    expect(created.status).toBe(200);
    const upload = (await created.json()) as Upload;
    const url = new URL(upload.url);
    expect(url.origin).toBe("https://edge.test");
    expect(url.pathname).toBe(`/v1/uploads/${upload.upload_id}`);

    const audio = wavTone(3);
    const put = await callRelayWorker(upload.url, { method: "PUT", headers: { "content-length": String(audio.length), "content-type": "audio/wav" }, body: audio });
    expect(put.status).toBe(200);
    expect((await put.json()) as unknown).toEqual({ object: "upload", upload_id: upload.upload_id, bytes: audio.length });

    const res = await callRelayWorker("/v1/transcriptions", { method: "POST", headers: { ...auth(), ...json }, body: JSON.stringify({ upload_id: upload.upload_id }) });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; duration_seconds: number };
    expect(job.duration_seconds).toBe(3);
    const stored = await nodeSide.job(job.id);
    const object = await bucket.get(String(stored?.job.audioKey));
    expect(new Uint8Array(await (object as { arrayBuffer(): Promise<ArrayBuffer> }).arrayBuffer())).toEqual(audio);
  });

  it("refuses a forged token, a body over max_bytes, and a PUT without Content-Length", async () => {
    const upload = (await (await callRelayWorker("/v1/uploads", { method: "POST", headers: auth() })).json()) as Upload;
    const body = wavTone(1);
    const headers = { "content-length": String(body.length) };
    const forged = new URL(upload.url);
    // Another first character of the signature (the last one carries padding bits that decoding drops).
    const [payload, signature = ""] = (forged.searchParams.get("token") ?? "").split(".");
    forged.searchParams.set("token", `${payload}.${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`);
    const refused = await callRelayWorker(forged.toString(), { method: "PUT", headers, body });
    expect(refused.status).toBe(403);
    expect((await refused.json()) as unknown).toMatchObject({ error: { code: "forbidden" } });
    const otherId = upload.url.replace(upload.upload_id, "up_" + "0".repeat(24));
    expect((await callRelayWorker(otherId, { method: "PUT", headers, body })).status).toBe(403);
    const tooBig = wavTone(13); // 104 kB > 100,000
    expect((await callRelayWorker(upload.url, { method: "PUT", headers: { "content-length": String(tooBig.length) }, body: tooBig })).status).toBe(413);
    const stream = new Blob([body]).stream();
    expect((await callRelayWorker(upload.url, { method: "PUT", body: stream, duplex: "half" } as RequestInit)).status).toBe(400);
  });
});
