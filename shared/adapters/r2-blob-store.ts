import { assertSafeBlobKey, type BlobStore } from "../blob-store.js";

// The parts of Workers' R2 binding used here, typed structurally so this file needs no Workers type package.
export type R2Range = { offset: number; length?: number } | { suffix: number };

export interface R2ObjectInfo {
  size: number;
  httpMetadata?: { contentType?: string };
}

export interface R2ObjectBodyLike extends R2ObjectInfo {
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface R2BucketLike {
  head(key: string): Promise<R2ObjectInfo | null>;
  get(key: string, options?: { range?: R2Range }): Promise<R2ObjectBodyLike | null>;
  put(
    key: string,
    value: ReadableStream | ArrayBuffer | ArrayBufferView | string | null,
    options?: { httpMetadata?: { contentType?: string } },
  ): Promise<unknown>;
  delete(key: string): Promise<void>;
}

/** workerd's TransformStream that declares its length up front (R2 refuses streams of unknown length). */
type FixedLengthStreamConstructor = new (length: number) => TransformStream<Uint8Array, Uint8Array>;

/** Uploaded audio in an R2 bucket through the Workers binding (no S3 credentials needed for reads and writes). */
export class R2BlobStore implements BlobStore {
  constructor(private readonly bucket: R2BucketLike) {}

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    assertSafeBlobKey(key);
    await this.bucket.put(key, bytes, { httpMetadata: { contentType } });
  }

  /** Streams `body` into the bucket; R2 needs the length beforehand, and the stream errors if the body differs. */
  async putStream(key: string, body: ReadableStream<Uint8Array>, length: number, contentType: string): Promise<void> {
    assertSafeBlobKey(key);
    const FixedLengthStream = (globalThis as { FixedLengthStream?: FixedLengthStreamConstructor }).FixedLengthStream;
    if (!FixedLengthStream) throw new Error("R2BlobStore.putStream needs workerd's FixedLengthStream");
    const sized = new FixedLengthStream(length);
    const piping = body.pipeTo(sized.writable);
    // If the body breaks off, pipeTo rejects and aborts the writable side, and put rejects in turn.
    await Promise.all([this.bucket.put(key, sized.readable, { httpMetadata: { contentType } }), piping]);
  }

  async get(key: string): Promise<Uint8Array | null> {
    assertSafeBlobKey(key);
    const object = await this.bucket.get(key);
    return object ? new Uint8Array(await object.arrayBuffer()) : null;
  }

  async delete(key: string): Promise<void> {
    assertSafeBlobKey(key);
    await this.bucket.delete(key);
  }

  /** Size and type without reading the object, or null when there is none. */
  async head(key: string): Promise<{ size: number; contentType: string | null } | null> {
    assertSafeBlobKey(key);
    const info = await this.bucket.head(key);
    return info ? { size: info.size, contentType: info.httpMetadata?.contentType ?? null } : null;
  }

  /** Part of an object: its first bytes, or with `suffix` its last ones. Null when there is no such object. */
  async getRange(key: string, range: R2Range): Promise<Uint8Array | null> {
    assertSafeBlobKey(key);
    const object = await this.bucket.get(key, { range });
    return object ? new Uint8Array(await object.arrayBuffer()) : null;
  }
}
