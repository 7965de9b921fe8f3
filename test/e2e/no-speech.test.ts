import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { jobs, usageRecords, webhookDeliveries } from "../../db/schema.js";
import { startStack, webhookReceiver, type Stack } from "../support/stack.js";

// The model `npm start` ships: it really transcribes the espeak-ng sentence in the corpus file.
const MODEL = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
// 1.7 s of speech then 60 s of digital silence: speech under 3 % of the file, which used to complete empty.
const speechThenSilence = readFileSync(new URL("../fixtures/vad-corpus/digital-silence-tail.flac", import.meta.url));
const silentFile = readFileSync(new URL("../fixtures/audio/silence.wav", import.meta.url));

interface JobBody {
  status: string;
  phase: string | null;
  progress: number;
  text: string | null;
  no_speech: boolean | null;
  duration_seconds: number | null;
}

describe("speech is never lost, and no speech is said so", () => {
  let stack: Stack;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  beforeAll(async () => {
    hooks = await webhookReceiver();
    stack = await startStack("postgres", { model: { dir: MODEL } });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await hooks?.close();
  });

  async function upload(bytes: Buffer, name: string, type: string, webhook = false): Promise<string> {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(bytes)], { type }), name);
    if (webhook) form.append("webhook_url", hooks.url);
    const created = await stack.request("/v1/transcriptions", { method: "POST", body: form });
    expect(created.status).toBe(202);
    const body = (await created.json()) as JobBody & { id: string };
    expect(body).toMatchObject({ status: "queued", phase: null, no_speech: null });
    return body.id;
  }

  /** Every state seen until the job finishes: whatever polling catches must be in order. */
  async function follow(id: string): Promise<JobBody[]> {
    const seen: JobBody[] = [];
    await stack.waitFor(id, (job) => {
      seen.push(job as unknown as JobBody);
      return ["completed", "failed", "canceled"].includes(job.status);
    });
    return seen;
  }

  it("transcribes a little speech in a minute of digital silence, bills it, and marks it as speech", async () => {
    const id = await upload(speechThenSilence, "speech-then-silence.flac", "audio/flac");
    const seen = await follow(id);
    const job = seen[seen.length - 1];
    expect(job.status).toBe("completed");
    expect(job.text).toMatch(/timer/i);
    expect(job.no_speech).toBe(false);
    expect(job.phase).toBeNull();
    const [usage] = await stack.database.db.select().from(usageRecords).where(eq(usageRecords.jobId, id));
    expect(usage.billableSeconds).toBe(62);
    // Progress never goes back, and phases only move forward.
    const order = ["fetching", "decoding", "transcribing"];
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i].progress).toBeGreaterThanOrEqual(seen[i - 1].progress);
      if (seen[i].phase && seen[i - 1].phase) expect(order.indexOf(seen[i].phase as string)).toBeGreaterThanOrEqual(order.indexOf(seen[i - 1].phase as string));
    }
    const [row] = await stack.database.db.select().from(jobs).where(eq(jobs.id, id));
    expect(row.phase).toBe("transcribing"); // the last phase it went through
  }, 120_000);

  it("completes audio without speech with an empty text, no_speech: true, and bills nothing", async () => {
    const id = await upload(silentFile, "silence.wav", "audio/wav", true);
    const [job] = (await follow(id)).slice(-1);
    expect(job).toMatchObject({ status: "completed", text: "", no_speech: true, progress: 1 });
    const [usage] = await stack.database.db.select().from(usageRecords).where(eq(usageRecords.jobId, id));
    expect(usage.billableSeconds).toBe(0);
    expect(usage.audioSeconds).toBeCloseTo(job.duration_seconds as number, 6);
    // The completion webhook says so too.
    const deadline = Date.now() + 30_000;
    const delivered = async () =>
      (await stack.database.db.select({ status: webhookDeliveries.status }).from(webhookDeliveries).where(eq(webhookDeliveries.jobId, id)))[0]?.status === "succeeded";
    while (!(await delivered())) {
      if (Date.now() > deadline) throw new Error("the completion webhook was not delivered");
      await new Promise((r) => setTimeout(r, 50));
    }
    const [hook] = hooks.received;
    const event = new Webhook(stack.webhookSecret).verify(hook.body, {
      "webhook-id": String(hook.headers["webhook-id"]),
      "webhook-timestamp": String(hook.headers["webhook-timestamp"]),
      "webhook-signature": String(hook.headers["webhook-signature"]),
    }) as { type: string; data: { id: string; no_speech: boolean } };
    expect(event).toMatchObject({ type: "transcription.completed", data: { id, no_speech: true } });
  }, 120_000);
});
