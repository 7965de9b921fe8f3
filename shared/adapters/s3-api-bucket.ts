import { AwsClient } from "aws4fetch";
import type { R2BucketLike, R2ObjectBodyLike, R2ObjectInfo, R2Range } from "./r2-blob-store.js";

export interface S3ApiBucketOptions {
  /** An S3-compatible endpoint: R2's https://<account id>.r2.cloudflarestorage.com, or a local emulator. */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** R2 takes `auto`. */
  region?: string;
  fetch?: typeof fetch;
}

export class S3ApiBucketError extends Error {
  override readonly name = "S3ApiBucketError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The R2 binding's surface (head, ranged get, put, delete) over the S3 API with fetch + SigV4 (aws4fetch, so it
 * runs on Workers). With it the edge on Workers stores audio where the GPU worker also reads it through the S3
 * API — locally an S3 emulator, since wrangler's local R2 has no S3 endpoint. Path-style URLs, which R2 and S3
 * both take. Bodies are not hashed (UNSIGNED-PAYLOAD), so a stream of known length goes up without buffering.
 */
export class S3ApiBucket implements R2BucketLike {
  private readonly client: AwsClient;
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(options: S3ApiBucketOptions) {
    // service and region are explicit: aws4fetch guesses them only from *.amazonaws.com hosts.
    this.client = new AwsClient({ accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, service: "s3", region: options.region ?? "auto" });
    this.base = `${options.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(options.bucket)}/`;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async head(key: string): Promise<R2ObjectInfo | null> {
    const res = await this.send(key, { method: "HEAD" });
    if (res.status === 404) return null;
    await expectOk(res, "HEAD", key);
    return objectInfo(res, Number(res.headers.get("content-length") ?? "0"));
  }

  async get(key: string, options?: { range?: R2Range }): Promise<R2ObjectBodyLike | null> {
    const headers = options?.range ? { Range: rangeHeader(options.range) } : undefined;
    const res = await this.send(key, { method: "GET", ...(headers ? { headers } : {}) });
    if (res.status === 404) return null;
    await expectOk(res, "GET", key);
    const body = await res.arrayBuffer();
    // A ranged answer's Content-Length is the part's; the object's size is after the slash of Content-Range.
    const total = /\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1];
    const info = objectInfo(res, total === undefined ? body.byteLength : Number(total));
    return { ...info, arrayBuffer: async () => body };
  }

  async put(
    key: string,
    value: ReadableStream | ArrayBuffer | ArrayBufferView | string | null,
    options?: { httpMetadata?: { contentType?: string } },
  ): Promise<unknown> {
    const contentType = options?.httpMetadata?.contentType;
    const body = value === null ? "" : ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : value;
    const res = await this.send(key, { method: "PUT", body: body as BodyInit, ...(contentType ? { headers: { "Content-Type": contentType } } : {}) });
    await expectOk(res, "PUT", key);
    await res.body?.cancel();
    return undefined;
  }

  async delete(key: string): Promise<void> {
    const res = await this.send(key, { method: "DELETE" });
    // S3 answers 204 whether or not the object existed, as R2's binding does.
    if (res.status !== 404) await expectOk(res, "DELETE", key);
    await res.body?.cancel();
  }

  private async send(key: string, init: RequestInit): Promise<Response> {
    const url = this.base + key.split("/").map(encodeURIComponent).join("/");
    const signed = await this.client.sign(url, init);
    return this.fetch(signed);
  }
}

function rangeHeader(range: R2Range): string {
  if ("suffix" in range) return `bytes=-${range.suffix}`;
  return range.length === undefined ? `bytes=${range.offset}-` : `bytes=${range.offset}-${range.offset + range.length - 1}`;
}

function objectInfo(res: Response, size: number): R2ObjectInfo {
  const contentType = res.headers.get("content-type");
  return { size, ...(contentType ? { httpMetadata: { contentType } } : {}) };
}

async function expectOk(res: Response, method: string, key: string): Promise<void> {
  if (res.ok) return;
  const text = method === "HEAD" ? "" : await res.text().catch(() => "");
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
  throw new S3ApiBucketError(res.status, `S3 ${method} ${key} answered ${res.status}${code ? ` ${code}` : ""}`);
}
