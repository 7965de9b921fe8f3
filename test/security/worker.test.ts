/**
 * The GPU worker's side of abuse hardening, on the real pipeline (edge, SQS emulator, worker, PostgreSQL):
 * audio replaced after its job was accepted (a second PUT to a bucket's upload URL) is neither transcribed
 * nor billed; webhooks are delivered through the guarded fetch, which connects only to addresses it checked.
 */
import { readFileSync } from "node:fs";
import { writeFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { jobs, usageRecords } from "../../db/schema.js";
import { findActiveApiKey } from "../../edge/store/api-keys.js";
import { newJobId } from "../../edge/store/jobs.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { jobMessage } from "../../shared/queue.js";
import { startStack, webhookReceiver, type Stack } from "../support/stack.js";
import { vector } from "./vectors.js";

const MODEL = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const speech = readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url));

describe("the worker runs only the audio that was accepted", () => {
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

  vector("audio replaced by a longer file after the job was accepted fails the job unbilled", async () => {
    const key = (await findActiveApiKey(stack.database.db, stack.apiKey))!;
    const id = newJobId();
    const audioKey = `uploads/${key.id}/up_${id.slice(3)}`;
    // Accepted: 2 s of speech. Then the bucket took a second PUT of something twice as long.
    const replaced = Buffer.concat([speech, speech.subarray(44)]);
    await mkdir(dirname(join(stack.blobDir, audioKey)), { recursive: true });
    await writeFile(join(stack.blobDir, audioKey), replaced);
    await stack.database.db.insert(jobs).values({
      id, apiKeyId: key.id, audioKey, audioBytes: speech.length, contentType: "audio/wav", durationSeconds: 2.06, webhookUrl: hooks.url,
    });
    await sqsJobQueue({ queueUrl: stack.sqs.queueUrl, endpoint: stack.sqs.endpoint }).send(jobMessage(id));

    const job = await stack.waitFor(id);
    expect(job.status).toBe("failed");
    expect(job.error).toMatchObject({ code: "audio_changed" });
    expect(await stack.database.db.select().from(usageRecords).where(eq(usageRecords.jobId, id))).toEqual([]);
  }, 90_000);

  vector("the failure webhook reaches the allow-listed receiver through the guarded fetch", async () => {
    const deadline = Date.now() + 30_000;
    while (hooks.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(hooks.received.length).toBeGreaterThan(0);
    expect(JSON.parse(hooks.received[0].body)).toMatchObject({ type: "transcription.failed" });
  }, 60_000);
});
