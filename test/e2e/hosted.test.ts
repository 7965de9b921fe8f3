import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import OpenAI, { toFile } from "openai";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs, usageRecords, webhookDeliveries } from "../../db/schema.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { jobMessage } from "../../shared/queue.js";
import { queuedMessages } from "../support/sqs-depth.js";
import { startStack, webhookReceiver, type Stack } from "../support/stack.js";

const MODEL = fileURLToPath(new URL("../fixtures/models/tiny-random", import.meta.url));
const speechFile = readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url));

describe("hosted features end to end (real PostgreSQL, SQS emulator, worker)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack("postgres", { model: { dir: MODEL }, openai: { waitSeconds: 30 } });
  }, 120_000);
  afterAll(() => stack?.stop());

  const upload = async (extra: Record<string, string> = {}) => {
    const form = new FormData();
    form.append("file", new Blob([speechFile], { type: "audio/wav" }), "speech.wav");
    for (const [k, v] of Object.entries(extra)) form.append(k, v);
    const res = await stack.request("/v1/transcriptions", { method: "POST", body: form });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const bills = async (id: string) => (await stack.database.db.select().from(usageRecords).where(eq(usageRecords.jobId, id))).length;

  it("takes a file through POST /v1/uploads, a PUT to the returned URL and a job from the upload id", async () => {
    const slot = (await (await stack.request("/v1/uploads", { method: "POST" })).json()) as { upload_id: string; url: string; method: string };
    expect(slot.method).toBe("PUT");
    const put = await fetch(slot.url, { method: "PUT", body: speechFile, headers: { "Content-Type": "audio/wav" } });
    expect(put.status).toBe(200);
    const created = await stack.request("/v1/transcriptions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ upload_id: slot.upload_id }),
    });
    expect(created.status).toBe(202);
    const job = await stack.waitFor(((await created.json()) as { id: string }).id);
    expect(job.status).toBe("completed");
  });

  it("bills a redelivered SQS message once", async () => {
    const id = await upload();
    await stack.waitFor(id);
    expect(await bills(id)).toBe(1);
    const queue = sqsJobQueue({ queueUrl: stack.sqs.queueUrl, endpoint: stack.sqs.endpoint });
    await queue.send(jobMessage(id));
    await queue.send(jobMessage(id));
    // The worker acknowledges both (job already completed); wait until the queue is drained.
    const deadline = Date.now() + 30_000;
    while ((await queuedMessages(stack.sqs)) > 0) {
      if (Date.now() > deadline) throw new Error("the duplicate messages were never acknowledged");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await bills(id)).toBe(1);
    const [row] = await stack.database.db.select().from(jobs).where(eq(jobs.id, id));
    expect(row.attempts).toBe(1);
  });

  it("retries a failing webhook receiver until it succeeds, once, and lists the attempts", async () => {
    const hooks = await webhookReceiver((n) => (n <= 3 ? 500 : 204));
    try {
      const id = await upload({ webhook_url: hooks.url });
      await stack.waitFor(id);
      // Wait for the delivery to be recorded as succeeded: after that nothing is sent again.
      const deadline = Date.now() + 20_000;
      const delivered = async () =>
        (await stack.database.db.select({ status: webhookDeliveries.status }).from(webhookDeliveries).where(eq(webhookDeliveries.jobId, id)))[0]?.status === "succeeded";
      while (!(await delivered())) {
        if (Date.now() > deadline) throw new Error(`webhook not delivered; ${hooks.received.length} attempts received`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(hooks.received).toHaveLength(4);
      const ids = new Set(hooks.received.map((h) => h.headers["webhook-id"]));
      expect(ids.size).toBe(1); // the same webhook-id on every retry
      for (const hook of hooks.received) {
        const verified = new Webhook(stack.webhookSecret).verify(hook.body, {
          "webhook-id": String(hook.headers["webhook-id"]),
          "webhook-timestamp": String(hook.headers["webhook-timestamp"]),
          "webhook-signature": String(hook.headers["webhook-signature"]),
        });
        expect(verified).toMatchObject({ type: "transcription.completed", data: { id } });
      }
      const listed = (await (await stack.request(`/v1/transcriptions/${id}/webhooks`)).json()) as {
        data: { status: string; attempts: { status_code: number }[] }[];
      };
      expect(listed.data).toHaveLength(1);
      expect(listed.data[0].status).toBe("succeeded");
      expect(listed.data[0].attempts.map((a) => a.status_code)).toEqual([500, 500, 500, 204]);
    } finally {
      await hooks.close();
    }
  });

  describe("OpenAI SDK against /v1/audio/transcriptions", () => {
    const client = () => new OpenAI({ apiKey: stack.apiKey, baseURL: `${stack.edge.url}/v1`, maxRetries: 0 });

    it("transcribes with the official SDK in every response format", async () => {
      const file = await toFile(speechFile, "speech.wav", { type: "audio/wav" });
      const json = await client().audio.transcriptions.create({ file, model: "qwen3-asr" });
      expect(typeof json.text).toBe("string");
      const text = await client().audio.transcriptions.create({ file: await toFile(speechFile, "speech.wav"), model: "qwen3-asr", response_format: "text" });
      expect(String(text).trimEnd()).toBe(json.text);
      const srt = await client().audio.transcriptions.create({ file: await toFile(speechFile, "speech.wav"), model: "qwen3-asr", response_format: "srt" });
      expect(srt).toMatch(/^1\n00:00:00,000 --> /);
      const vtt = await client().audio.transcriptions.create({ file: await toFile(speechFile, "speech.wav"), model: "qwen3-asr", response_format: "vtt" });
      expect(vtt).toMatch(/^WEBVTT/);
      const verbose = await client().audio.transcriptions.create({
        file: await toFile(speechFile, "speech.wav"),
        model: "qwen3-asr",
        response_format: "verbose_json",
        timestamp_granularities: ["word", "segment"],
      });
      expect(verbose).toMatchObject({ task: "transcribe", text: json.text });
      expect(verbose.duration).toBeCloseTo(2.06, 1);
      expect(Array.isArray(verbose.segments)).toBe(true);
      expect(Array.isArray(verbose.words)).toBe(true);
      // Not a field of OpenAI's type: the words' times are estimates, and the response says so.
      expect((verbose as { word_timestamps?: string }).word_timestamps).toBe("estimated");
    });

    it("passes `prompt` to the job as the model's context", async () => {
      const unique = Buffer.from(speechFile);
      unique[unique.length - 4] ^= 1;
      await client().audio.transcriptions.create({ file: await toFile(unique, "p.wav"), model: "qwen3-asr", prompt: "Timers and reminders." });
      const rows = await stack.database.db.select().from(jobs).where(eq(jobs.prompt, "Timers and reminders."));
      expect(rows).toHaveLength(1);
      expect(rows[0].status).toBe("completed");
    });

    it("bills an identical retried upload once (the SDK sends no idempotency key)", async () => {
      const before = (await stack.database.db.select().from(usageRecords)).length;
      const unique = Buffer.from(speechFile);
      unique[unique.length - 2] ^= 1; // an upload no earlier test made
      await client().audio.transcriptions.create({ file: await toFile(unique, "a.wav"), model: "qwen3-asr" });
      await client().audio.transcriptions.create({ file: await toFile(unique, "a.wav"), model: "qwen3-asr" });
      expect((await stack.database.db.select().from(usageRecords)).length).toBe(before + 1);
    });

    it("maps errors to the SDK's error classes", async () => {
      const bad = new OpenAI({ apiKey: "sk_live_wrong", baseURL: `${stack.edge.url}/v1`, maxRetries: 0 });
      await expect(bad.audio.transcriptions.create({ file: await toFile(speechFile, "s.wav"), model: "x" })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const notAudio = client().audio.transcriptions.create({ file: await toFile(Buffer.from("not audio at all"), "x.wav"), model: "x" });
      await expect(notAudio).rejects.toBeInstanceOf(OpenAI.APIError);
      await expect(notAudio).rejects.toMatchObject({ status: 415, error: { type: "invalid_request_error", code: "unsupported_format" } });
    });
  });
});

describe("transcribe CLI", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack("pglite", { model: { dir: MODEL } });
  }, 120_000);
  afterAll(() => stack?.stop());

  it("uploads a file, shows progress and prints the transcript", async () => {
    const { transcribeCommand } = await import("../../cli/transcribe.js");
    const { Writable } = await import("node:stream");
    let out = "";
    let err = "";
    const sink = (append: (s: string) => void) => new Writable({ write(chunk, _e, cb) { append(String(chunk)); cb(); } });
    const path = fileURLToPath(new URL("../fixtures/audio/speech.wav", import.meta.url));
    const code = await transcribeCommand(
      ["transcribe", path, "--wait", "--format", "srt", "--api", stack.edge.url, "--key", stack.apiKey, "--interval", "0.1"],
      sink((s) => (out += s)),
      sink((s) => (err += s)),
    );
    expect(code).toBe(0);
    expect(err).toMatch(/100%\s+completed/);
    expect(out).toMatch(/^1\n00:00:00,000 --> /);
  });
});
