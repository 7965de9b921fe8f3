/**
 * S3ApiBucket (the R2 binding's surface over the S3 API, for the Worker with BLOB_STORE=s3) against the S3 API
 * of the local emulator, through a real socket: what the edge's upload checks read (sizes, ranges, the last
 * bytes) and what the GPU worker then reads back with the AWS SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalSqs, type LocalSqs } from "../../dev/sqs-emulator.js";
import { workerBucket } from "../../edge/workers/bucket.js";
import type { WorkerEnv } from "../../edge/workers/env.js";
import { R2BlobStore } from "../../shared/adapters/r2-blob-store.js";
import { S3ApiBucket, S3ApiBucketError } from "../../shared/adapters/s3-api-bucket.js";
import { S3BlobStore } from "../../shared/adapters/s3-blob-store.js";

const BUCKET = "s3-api-bucket-test";
const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

describe("S3ApiBucket on an S3 API", () => {
  let aws: LocalSqs;
  let bucket: S3ApiBucket;
  beforeAll(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    aws = await startLocalSqs({ buckets: [BUCKET] });
    bucket = new S3ApiBucket({ endpoint: aws.endpoint, bucket: BUCKET, ...credentials });
  });
  afterAll(async () => aws?.stop());

  it("stores what the AWS SDK reads back, with its content type and size", async () => {
    await bucket.put("uploads/a/b.wav", bytes, { httpMetadata: { contentType: "audio/wav" } });
    const sdk = new S3BlobStore({ bucket: BUCKET, endpoint: aws.endpoint, region: "auto", credentials });
    expect(await sdk.get("uploads/a/b.wav")).toEqual(bytes);
    expect(await bucket.head("uploads/a/b.wav")).toEqual({ size: 1000, httpMetadata: { contentType: "audio/wav" } });
  });

  it("reads ranges from the start and from the end, with the object's whole size", async () => {
    const store = new R2BlobStore(bucket);
    await store.put("ranged.bin", bytes, "application/octet-stream");
    expect(await store.getRange("ranged.bin", { offset: 10, length: 5 })).toEqual(bytes.slice(10, 15));
    expect(await store.getRange("ranged.bin", { suffix: 7 })).toEqual(bytes.slice(993));
    expect((await bucket.get("ranged.bin", { range: { offset: 0, length: 3 } }))?.size).toBe(1000);
    expect(await store.get("ranged.bin")).toEqual(bytes);
  });

  it("answers null for what is not there, and deletes", async () => {
    expect(await bucket.head("missing.wav")).toBeNull();
    expect(await bucket.get("missing.wav")).toBeNull();
    await bucket.put("gone.wav", bytes);
    await bucket.delete("gone.wav");
    expect(await bucket.head("gone.wav")).toBeNull();
    await bucket.delete("gone.wav"); // deleting twice is not an error, as with R2
  });

  it("fails with the status and S3's error code when the bucket refuses", async () => {
    const elsewhere = new S3ApiBucket({ endpoint: aws.endpoint, bucket: "no-such-bucket", ...credentials });
    const error = await elsewhere.put("x.wav", bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3ApiBucketError);
    expect(error).toMatchObject({ status: 404, message: expect.stringMatching(/NoSuchBucket/) });
  });
});

describe("the Worker's choice of bucket access (BLOB_STORE)", () => {
  const binding = { head: async () => null } as unknown as WorkerEnv["UPLOADS_BUCKET"];
  const env = (vars: Partial<WorkerEnv>): WorkerEnv => ({ HYPERDRIVE: { connectionString: "" }, UPLOADS_BUCKET: binding, ...vars });
  const s3Vars = { R2_S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com", R2_BUCKET_NAME: "b", R2_ACCESS_KEY_ID: "k", R2_SECRET_ACCESS_KEY: "s" };

  it("uses the R2 binding by default and with BLOB_STORE=r2", () => {
    expect(workerBucket(env({}))).toBe(binding);
    expect(workerBucket(env({ BLOB_STORE: "r2", ...s3Vars }))).toBe(binding);
  });

  it("uses the S3 API with BLOB_STORE=s3, and says which variable is missing", () => {
    expect(workerBucket(env({ BLOB_STORE: "s3", ...s3Vars }))).toBeInstanceOf(S3ApiBucket);
    expect(() => workerBucket(env({ BLOB_STORE: "s3", ...s3Vars, R2_SECRET_ACCESS_KEY: "" }))).toThrow(/R2_SECRET_ACCESS_KEY/);
    expect(() => workerBucket(env({ BLOB_STORE: "gcs" }))).toThrow(/r2 or s3/);
  });
});
