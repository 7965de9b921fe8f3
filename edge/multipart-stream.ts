import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import Busboy from "busboy";
import { ApiError } from "../shared/api-error.js";

/** Text fields are small (a language, a prompt of ≤ 1000 characters, a URL): a larger one is refused, not cut. */
const MAX_FIELD_BYTES = 1024 * 1024;
const MAX_PARTS = 10_000;
/**
 * busboy is stricter than the platform's parser (it refuses control characters in a part's headers, e.g. in a
 * file name, which the API accepts and cleans). A body it refuses is given to the platform's parser, whose
 * verdict stands, but only when it is this small: the platform parses in one go, on the event loop.
 */
const PLATFORM_FALLBACK_BYTES = 1024 * 1024;

const malformed = (detail: string) => new ApiError("invalid_request", `malformed multipart/form-data body: ${detail}`);

/**
 * Parses a multipart body as it streams in (busboy), a network chunk at a time, into the FormData Hono's form
 * validator would have built. Hono's own path (the platform's Response.formData on the whole buffered body)
 * works in one go: about half a second of the event loop for a 38 MB upload, during which no other request is
 * answered. Node only: Workers keep the platform parser.
 */
export function streamingFormData(request: Request): Promise<FormData> {
  return new Promise((resolve, reject) => {
    if (!request.body) return reject(malformed("the body is empty"));
    let parser: Busboy.Busboy;
    try {
      parser = Busboy({ headers: Object.fromEntries(request.headers), limits: { fieldSize: MAX_FIELD_BYTES, parts: MAX_PARTS } });
    } catch (error) {
      return reject(malformed((error as Error).message));
    }
    const source = Readable.fromWeb(request.body as NodeReadableStream<Uint8Array>);
    // The first megabyte of the raw body is kept while it is parsed, for the platform fallback.
    const raw: Buffer[] = [];
    let rawBytes = 0;
    const form = new FormData();
    const files: Promise<void>[] = [];
    let settled = false;
    const fail = (error: ApiError) => {
      if (settled) return;
      settled = true;
      source.destroy();
      reject(error);
    };
    const platformFallback = (reason: string) => {
      if (settled) return;
      if (rawBytes > PLATFORM_FALLBACK_BYTES) return fail(malformed(reason));
      settled = true;
      source.unpipe(parser);
      const finish = () =>
        new Response(Buffer.concat(raw), { headers: { "content-type": request.headers.get("content-type") ?? "" } }).formData().then(resolve, (error: Error) =>
          reject(malformed(error.message)),
        );
      if (source.readableEnded) void finish();
      else source.on("end", () => void finish()).on("error", (error) => reject(malformed(error.message)));
      source.resume();
    };
    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) fail(new ApiError("payload_too_large", `the multipart field ${JSON.stringify(name.slice(0, 40))} is over ${MAX_FIELD_BYTES} bytes`));
      else form.append(name, value);
    });
    parser.on("file", (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      files.push(
        new Promise((done, failed) => {
          stream.on("end", () => {
            form.append(name, new File(chunks as Uint8Array<ArrayBuffer>[], info.filename, { type: info.mimeType }));
            done();
          });
          stream.on("error", failed);
        }),
      );
    });
    parser.on("partsLimit", () => fail(malformed(`more than ${MAX_PARTS} parts`)));
    parser.on("error", (error: Error) => platformFallback(error.message));
    parser.on("close", () => {
      Promise.all(files).then(
        () => {
          if (settled) return;
          settled = true;
          raw.length = 0;
          resolve(form);
        },
        (error: Error) => platformFallback(error.message),
      );
    });
    source.on("data", (chunk: Buffer) => {
      rawBytes += chunk.length;
      // Past the fallback's size the raw body can no longer be needed: stop holding it twice.
      if (rawBytes > PLATFORM_FALLBACK_BYTES) raw.length = 0;
      else raw.push(chunk);
    });
    source.on("error", (error) => fail(malformed(error.message)));
    source.pipe(parser);
  });
}
