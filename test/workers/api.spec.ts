import { describe, expect, inject, it } from "vitest";
import { auth, callWorker, fileForm, nodeSide, wavTone } from "./worker-client.js";

describe("edge API on workerd", () => {
  it("answers /healthz through Hyperdrive", async () => {
    const res = await callWorker("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: "ok" });
  });

  it("401s without an API key, and with an unknown one", async () => {
    const missing = await callWorker("/v1/transcriptions");
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    expect((await missing.json()) as unknown).toMatchObject({ error: { code: "unauthorized" } });
    const unknown = await callWorker("/v1/transcriptions", { headers: auth("sk_live_not_a_key_at_all_000000") });
    expect(unknown.status).toBe(401);
  });

  it("415s a text file named .wav", async () => {
    const text = new TextEncoder().encode("hello, this is not audio\n");
    const res = await callWorker("/v1/transcriptions", { method: "POST", headers: auth(), body: fileForm(text, "speech.wav", "audio/wav") });
    expect(res.status).toBe(415);
    expect((await res.json()) as unknown).toMatchObject({ error: { code: "unsupported_format" } });
  });

  it("413s a file over MAX_UPLOAD_BYTES", async () => {
    const res = await callWorker("/v1/transcriptions", { method: "POST", headers: auth(), body: fileForm(wavTone(130), "long.wav") });
    expect(res.status).toBe(413);
    expect((await res.json()) as unknown).toMatchObject({ error: { code: "file_too_large" } });
  });

  it("422s what the headers show to be unusable", async () => {
    const tooLong = await callWorker("/v1/transcriptions", { method: "POST", headers: auth(), body: fileForm(wavTone(61), "long.wav") });
    expect(tooLong.status).toBe(422);
    expect((await tooLong.json()) as unknown).toMatchObject({ error: { code: "audio_too_long" } });
    const headerOnly = await callWorker("/v1/transcriptions", { method: "POST", headers: auth(), body: fileForm(wavTone(0), "empty.wav") });
    expect(headerOnly.status).toBe(422);
    expect((await headerOnly.json()) as unknown).toMatchObject({ error: { code: "empty_audio" } });
  });

  it("creates a job: 202, the row in PostgreSQL, the message in SQS; then GETs it", async () => {
    const res = await callWorker("/v1/transcriptions", { method: "POST", headers: auth(), body: fileForm(wavTone(2), "tone.wav", "audio/wav") });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; status: string; duration_seconds: number; audio: { bytes: number } };
    expect(job).toMatchObject({ status: "queued", duration_seconds: 2, audio: { bytes: 44 + 16000 } });
    expect(res.headers.get("location")).toBe(`/v1/transcriptions/${job.id}`);

    const stored = await nodeSide.job(job.id);
    expect(stored?.job).toMatchObject({ id: job.id, status: "queued", contentType: "audio/wav", audioKey: expect.stringMatching(/^audio\//) });
    expect(stored?.outbox[0]?.sentAt).not.toBeNull();
    expect(await nodeSide.messageFor(job.id)).toMatchObject({ v: 1, jobId: job.id });

    const got = await callWorker(`/v1/transcriptions/${job.id}`, { headers: auth() });
    expect(got.status).toBe(200);
    expect((await got.json()) as unknown).toMatchObject({ id: job.id, status: "queued" });
    const otherKey = await callWorker(`/v1/transcriptions/${job.id}`, { headers: auth(inject("otherApiKey")) });
    expect(otherKey.status).toBe(404);
  });

  it("lists the upload routes in /openapi.json", async () => {
    const spec = (await (await callWorker("/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(spec.paths["/v1/uploads"] ?? {})).toContain("post");
    expect(Object.keys(spec.paths["/v1/uploads/{id}"] ?? {})).toContain("put");
  });
});
