/**
 * The Cloudflare path end to end: edge/worker.ts on workerd (wrangler's programmatic `wrangler dev`, as
 * `npm run start:workers` runs it), PostgreSQL through Hyperdrive's local connection string, the SQS emulator,
 * audio through the S3 API of the emulator's bucket (what R2's S3 API is in production), and the GPU worker on the
 * model the repo ships. Jobs made through the Worker are transcribed: multipart uploads, presigned uploads and
 * the OpenAI route; what the Worker passes on from headers alone is failed by the worker with the Node edge's code.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eq } from "drizzle-orm";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageRecords } from "../../db/schema.js";
import { startLocalSqs, type LocalSqs } from "../../dev/sqs-emulator.js";
import { startWorkersEdge, type WorkersEdge } from "../../dev/workers-edge.js";
import { nodeAudioProbe } from "../../edge/node-probe.js";
import { createApiKey } from "../../edge/store/api-keys.js";
import { validateAudio } from "../../edge/upload/validate.js";
import { startWorker, type RunningWorker } from "../../gpu-worker/main.js";
import { S3BlobStore } from "../../shared/adapters/s3-blob-store.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { ApiError } from "../../shared/api-error.js";
import { parseServiceConfig } from "../../shared/config.js";
import { silentLogger } from "../../shared/logger.js";
import { testDatabase, type TestDatabase } from "../support/database.js";

const MODEL = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const SPOKEN = "Set a timer for five minutes.";
const BUCKET = "qwen3-asr-uploads";
const speechWav: Uint8Array<ArrayBuffer> = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));
const speechMp3: Uint8Array<ArrayBuffer> = new Uint8Array(readFileSync(new URL("../fixtures/audio/formats/speech.mp3", import.meta.url)));

type Job = { id: string; status: string; text: string | null; error: { code: string; message: string } | null };

describe("the edge on workerd, end to end", () => {
  const config = parseServiceConfig({
    server: { port: 0 },
    model: { dir: MODEL },
    queue: { waitTimeSeconds: 1, visibilityTimeoutSeconds: 30 },
    batching: { maxWaitMs: 50 },
  });
  let database: TestDatabase;
  let aws: LocalSqs;
  let worker: RunningWorker;
  let edge: WorkersEdge;
  let apiKey: string;

  beforeAll(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    database = await testDatabase("postgres");
    aws = await startLocalSqs({ visibilityTimeoutSeconds: config.queue.visibilityTimeoutSeconds, buckets: [BUCKET] });
    ({ key: apiKey } = await createApiKey(database.db, { name: "workers-e2e" }));
    const credentials = { accessKeyId: "local", secretAccessKey: "local" };
    worker = await startWorker({
      config,
      database,
      // The GPU worker's side of the bucket: the AWS SDK on the S3 API, as in production against R2.
      blobs: new S3BlobStore({ bucket: BUCKET, endpoint: aws.endpoint, region: "auto", credentials }),
      queue: sqsJobQueue({ queueUrl: aws.queueUrl, endpoint: aws.endpoint }),
      logger: silentLogger,
    });
    edge = await startWorkersEdge({
      port: 0,
      databaseUrl: database.url,
      devVars: false,
      vars: {
        SQS_ENDPOINT: aws.endpoint,
        SQS_QUEUE_URL: aws.queueUrl,
        BLOB_STORE: "s3",
        R2_S3_ENDPOINT: aws.endpoint,
        R2_BUCKET_NAME: BUCKET,
        R2_ACCESS_KEY_ID: credentials.accessKeyId,
        R2_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        LOG_LEVEL: "error",
      },
    });
  }, 120_000);

  afterAll(async () => {
    await edge?.stop();
    await worker?.stop();
    await aws?.stop();
    await database?.cleanup();
  });

  const call = (path: string, init: RequestInit = {}) =>
    fetch(edge.url + path, { ...init, headers: { Authorization: `Bearer ${apiKey}`, ...(init.headers ?? {}) } });

  const upload = (bytes: Uint8Array<ArrayBuffer>, name: string, fields: Record<string, string> = {}) => {
    const form = new FormData();
    form.append("file", new Blob([bytes]), name);
    for (const [field, value] of Object.entries(fields)) form.append(field, value);
    return call("/v1/transcriptions", { method: "POST", body: form });
  };

  async function created(res: Response): Promise<string> {
    expect(res.status, await res.clone().text()).toBe(202);
    return ((await res.json()) as Job).id;
  }

  /** Polls the Worker until the job has finished (or 45 s have passed). */
  async function finished(id: string): Promise<Job> {
    const deadline = Date.now() + 45_000;
    for (;;) {
      const job = (await (await call(`/v1/transcriptions/${id}`)).json()) as Job;
      if (["completed", "failed", "canceled"].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const billed = async (id: string) => (await database.db.select().from(usageRecords).where(eq(usageRecords.jobId, id))).map((u) => u.billableSeconds);

  it("transcribes an upload made through the Worker, and serves its transcript", async () => {
    const id = await created(await upload(speechWav, "speech.wav", { language: "en" }));
    expect(await finished(id)).toMatchObject({ status: "completed", text: SPOKEN, error: null });
    const transcript = await call(`/v1/transcriptions/${id}/transcript?format=txt`);
    expect(transcript.status).toBe(200);
    expect((await transcript.text()).trim()).toBe(SPOKEN);
    expect(await billed(id)).toEqual([3]); // 2.06 s, billed in whole seconds
  });

  it("transcribes a presigned upload PUT straight to the bucket's S3 API", async () => {
    const grant = await call("/v1/uploads", { method: "POST" });
    expect(grant.status).toBe(200);
    const { upload_id: uploadId, url } = (await grant.json()) as { upload_id: string; url: string };
    expect(new URL(url).origin).toBe(aws.endpoint);
    expect(new URL(url).searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    const put = await fetch(url, { method: "PUT", body: speechMp3, headers: { "Content-Type": "audio/mpeg" } });
    expect(put.status).toBe(200);

    const id = await created(await call("/v1/transcriptions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ upload_id: uploadId }) }));
    expect(await finished(id)).toMatchObject({ status: "completed", text: SPOKEN });
  });

  it("answers the OpenAI SDK on the OpenAI route once the job is done", async () => {
    const client = new OpenAI({ apiKey, baseURL: `${edge.url}/v1`, maxRetries: 0 });
    const result = await client.audio.transcriptions.create({ file: await toFile(speechWav, "speech.wav"), model: "qwen3-asr", response_format: "verbose_json" });
    expect(result.text).toBe(SPOKEN);
    expect(result.segments?.[0]).toMatchObject({ start: 0, text: SPOKEN });
  });

  /** What the Node edge answers for these bytes before any job exists: "accepted", or its error. */
  const nodeEdgeVerdict = (bytes: Uint8Array) =>
    validateAudio(bytes, nodeAudioProbe(config.limits), config.limits).then(
      () => "accepted" as const,
      (error: unknown) => {
        if (error instanceof ApiError) return { status: error.status, code: error.code };
        throw error;
      },
    );

  it("fails a job the headers let through with the Node edge's code, and bills nothing", async () => {
    // An MP3 cut to a tenth: its frames look fine, but what is left lasts less than the shortest audio accepted.
    const cut = speechMp3.slice(0, Math.floor(speechMp3.length / 10));
    const nodeEdge = await nodeEdgeVerdict(cut);
    expect(nodeEdge).toEqual({ status: 422, code: "audio_too_short" });

    const id = await created(await upload(cut, "cut.mp3"));
    const job = await finished(id);
    expect(job).toMatchObject({ status: "failed", text: null, error: { code: "audio_too_short" } }); // the Node edge's code, as checked above
    expect(job.error?.message).toMatch(/at least 0.1 s/);
    expect(await billed(id)).toEqual([]);
  });

  it("answers the OpenAI route, for a file the worker fails, with the Node edge's status and code", async () => {
    const cut = speechMp3.slice(0, Math.floor(speechMp3.length / 12));
    const nodeEdge = await nodeEdgeVerdict(cut);
    expect(nodeEdge).not.toBe("accepted");
    const client = new OpenAI({ apiKey, baseURL: `${edge.url}/v1`, maxRetries: 0 });
    const error = await client.audio.transcriptions.create({ file: await toFile(cut, "cut.mp3"), model: "qwen3-asr" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect({ status: (error as InstanceType<typeof OpenAI.APIError>).status, code: (error as InstanceType<typeof OpenAI.APIError>).code }).toEqual(nodeEdge);
  });
});
