import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageRecords, webhookDeliveries } from "../../db/schema.js";
import { decodeAudio } from "../../gpu-worker/audio/decode.js";
import { databaseKinds } from "../support/database.js";
import { startStack, webhookReceiver, type Stack } from "../support/stack.js";

// The model `npm start` ships, trained on synthetic speech: it really transcribes the committed sample.
const MODEL = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const SPOKEN = "Set a timer for five minutes.";
const speechFile = readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url));
const silentFile = readFileSync(new URL("../fixtures/audio/silence.wav", import.meta.url));

describe.each(databaseKinds)("pipeline end to end on %s", (kind) => {
  let stack: Stack;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  beforeAll(async () => {
    hooks = await webhookReceiver();
    stack = await startStack(kind, { model: { dir: MODEL } });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await hooks?.close();
  });

  it("uploads speech, completes it, bills it once and fires one signed webhook", async () => {
    const form = new FormData();
    form.append("file", new Blob([speechFile], { type: "audio/wav" }), "speech.wav");
    form.append("webhook_url", hooks.url);
    const created = await stack.request("/v1/transcriptions", { method: "POST", body: form });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };

    const job = await stack.waitFor(id);
    expect(job.status).toBe("completed");
    expect(job.progress).toBe(1);

    // The same audio through the engine directly gives the same text.
    const decoded = await decodeAudio(new Uint8Array(speechFile));
    const [direct] = await stack.worker.engine.transcribe([{ pcm: decoded.pcm }]);
    expect(job.text).toBe(direct.text);
    // …and that text is what was spoken.
    expect(job.text).toBe(SPOKEN);
    expect(job.language).toBe("en");

    const usage = await stack.database.db.select().from(usageRecords).where(eq(usageRecords.jobId, id));
    expect(usage).toHaveLength(1);
    expect(usage[0].billableSeconds).toBe(Math.ceil(decoded.durationSeconds));

    // Once the delivery is recorded as succeeded nothing is sent again: then exactly one has arrived.
    const deadline = Date.now() + 30_000;
    const delivered = async () =>
      (await stack.database.db.select({ status: webhookDeliveries.status }).from(webhookDeliveries).where(eq(webhookDeliveries.jobId, id)))[0]?.status === "succeeded";
    while (!(await delivered())) {
      if (Date.now() > deadline) throw new Error(`webhook not delivered; ${hooks.received.length} received`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(hooks.received).toHaveLength(1);
    const [hook] = hooks.received;
    const payload = new Webhook(stack.webhookSecret).verify(hook.body, {
      "webhook-id": String(hook.headers["webhook-id"]),
      "webhook-timestamp": String(hook.headers["webhook-timestamp"]),
      "webhook-signature": String(hook.headers["webhook-signature"]),
    }) as { type: string; data: { id: string; status: string } };
    expect(payload.type).toBe("transcription.completed");
    expect(payload.data).toMatchObject({ id, status: "completed" });

    const srt = await stack.request(`/v1/transcriptions/${id}/transcript?format=srt`);
    expect(srt.status).toBe(200);
    expect(srt.headers.get("content-type")).toBe("application/x-subrip; charset=utf-8");
  });

  it("completes a silent upload with an empty transcript instead of asking the model", async () => {
    const form = new FormData();
    form.append("file", new Blob([silentFile], { type: "audio/wav" }), "silence.wav");
    const created = await stack.request("/v1/transcriptions", { method: "POST", body: form });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const job = await stack.waitFor(id);
    expect(job).toMatchObject({ status: "completed", progress: 1, text: "", segments: [] });
    // The model itself, asked, writes a sentence for this silence: the worker must not ask it.
    const [direct] = await stack.worker.engine.transcribe([{ pcm: (await decodeAudio(new Uint8Array(silentFile))).pcm }]);
    expect(direct.text).not.toBe("");
    const srt = await stack.request(`/v1/transcriptions/${id}/transcript?format=srt`);
    expect(srt.status).toBe(200);
    expect(await srt.text()).toBe("");
  });
});
