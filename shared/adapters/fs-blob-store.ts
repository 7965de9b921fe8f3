import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { dirname, join, resolve } from "node:path";
import { assertSafeBlobKey, BodyLengthMismatch, type BlobStore } from "../blob-store.js";

/** Blobs as files under a root folder; writes go to a temp file then rename, so a crash never leaves half a blob. */
export class FsBlobStore implements BlobStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string {
    assertSafeBlobKey(key);
    return join(this.root, key);
  }

  async put(key: string, bytes: Uint8Array, _contentType?: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, bytes);
    await rename(temp, path);
  }

  /** Streams the body to disk (never held in memory); refuses one that is longer or shorter than `length`. */
  async putStream(key: string, body: ReadableStream<Uint8Array>, length: number, _contentType?: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    let received = 0;
    const exactLength = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        done(received > length ? new BodyLengthMismatch("the body is longer than its Content-Length") : null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(body as NodeReadableStream<Uint8Array>), exactLength, createWriteStream(temp));
      if (received !== length) throw new BodyLengthMismatch("the body is shorter than its Content-Length");
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
