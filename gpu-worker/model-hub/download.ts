/**
 * Downloading a model repository from the Hugging Face Hub (or a mirror: `hubUrl`, from HF_ENDPOINT) with
 * @huggingface/hub: list the files, fetch each one resumably (a `.incomplete` file continues with a Range
 * request), check its size and hash (sha256 of an LFS file, the git blob id of a small one) and only then
 * give it its name. A file already present with the right size and hash is not fetched again.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Readable, Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { downloadFile, listFiles } from "@huggingface/hub";

export interface HubFile {
  path: string;
  size: number;
  /** sha256 (hex) of an LFS file's content. */
  sha256?: string;
  /** git blob id (sha1 of "blob <size>\0" + content) of a file stored in git itself. */
  gitOid?: string;
}

export interface HubSource {
  repo: string;
  revision?: string;
  /** Hub base URL; https://huggingface.co when absent. */
  hubUrl?: string;
  accessToken?: string;
  /** How long to wait for a response's headers before calling the Hub unreachable (ms). */
  connectTimeoutMs?: number;
  /** How long a download may receive nothing before it is abandoned (it resumes on the next run) (ms). */
  stallTimeoutMs?: number;
}

export interface FileProgress {
  path: string;
  /** Bytes of this file on disk so far (a resumed file starts above 0). */
  bytes: number;
  size: number;
  resumedFrom: number;
}

export class HubError extends Error {
  override name = "HubError";
  constructor(
    readonly code: "hub_unreachable" | "repo_not_found" | "checksum_mismatch" | "size_mismatch" | "download_failed",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const DEFAULT_HUB = "https://huggingface.co";

/**
 * fetch with a deadline on the response headers (no network fails fast rather than hanging) and a stall
 * watchdog on the body. Network-level failures become HubError("hub_unreachable").
 */
export function guardedFetch(source: HubSource, base: typeof fetch = fetch): typeof fetch {
  const connectMs = source.connectTimeoutMs ?? 8000;
  const stallMs = source.stallTimeoutMs ?? 60_000;
  const hub = source.hubUrl ?? DEFAULT_HUB;
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const controller = new AbortController();
    let timer = setTimeout(() => controller.abort(new Error(`no answer within ${connectMs} ms`)), connectMs);
    let response: Response;
    try {
      response = await base(input, { ...init, signal: controller.signal });
    } catch (cause) {
      clearTimeout(timer);
      const reason = describeNetworkError(cause);
      throw new HubError("hub_unreachable", `cannot reach the Hugging Face Hub at ${hub}: ${reason}. Check the network, or set HF_ENDPOINT to a reachable mirror.`, { cause });
    }
    clearTimeout(timer);
    if (!response.body) return response;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
    };
    arm();
    const watched = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          arm();
          out.enqueue(chunk);
        },
        flush() {
          clearTimeout(timer);
        },
      }),
    );
    return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers });
  }) as typeof fetch;
}

function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause) {
    const code = (e as { code?: string }).code;
    parts.push(code ? `${e.message} (${code})` : e.message);
  }
  return parts.join(": ") || String(error);
}

function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404 || (error as { statusCode?: number }).statusCode === 401;
}

/** Every file of the repository at the revision, with what its content must hash to. */
export async function listHubFiles(source: HubSource, fetchImpl?: typeof fetch): Promise<HubFile[]> {
  const files: HubFile[] = [];
  try {
    for await (const entry of listFiles({
      repo: { type: "model", name: source.repo },
      revision: source.revision,
      recursive: true,
      hubUrl: source.hubUrl,
      accessToken: source.accessToken,
      fetch: fetchImpl ?? guardedFetch(source),
    })) {
      if (entry.type !== "file") continue;
      files.push({ path: entry.path, size: entry.size, sha256: entry.lfs?.oid, gitOid: entry.lfs ? undefined : entry.oid });
    }
  } catch (error) {
    if (error instanceof HubError) throw error;
    if (isNotFound(error)) {
      throw new HubError("repo_not_found", `repository ${source.repo}${source.revision ? `@${source.revision}` : ""} was not found on ${source.hubUrl ?? DEFAULT_HUB} (a private or gated one needs HF_TOKEN)`, { cause: error });
    }
    throw new HubError("download_failed", `listing ${source.repo} failed: ${(error as Error).message}`, { cause: error });
  }
  return files;
}

async function hashFile(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

function gitBlobHasher(size: number): ReturnType<typeof createHash> {
  return createHash("sha1").update(`blob ${size}\0`);
}

async function verified(path: string, file: HubFile): Promise<boolean> {
  if (!existsSync(path) || statSync(path).size !== file.size) return false;
  if (file.sha256) {
    const h = createHash("sha256");
    await hashFile(path, h);
    return h.digest("hex") === file.sha256;
  }
  if (file.gitOid) {
    const h = gitBlobHasher(file.size);
    await hashFile(path, h);
    return h.digest("hex") === file.gitOid;
  }
  return true;
}

/**
 * Fetches one file into `dir/file.path`. Resumes a `.incomplete` file left by an interrupted run; refuses (and
 * deletes) content whose size or hash is not what the Hub listed.
 */
export async function downloadHubFile(source: HubSource, file: HubFile, dir: string, onProgress?: (p: FileProgress) => void, fetchImpl?: typeof fetch): Promise<"present" | "downloaded"> {
  const target = join(dir, file.path);
  if (await verified(target, file)) {
    onProgress?.({ path: file.path, bytes: file.size, size: file.size, resumedFrom: file.size });
    return "present";
  }
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.incomplete`;
  let offset = existsSync(partial) ? statSync(partial).size : 0;
  if (offset > file.size) {
    rmSync(partial);
    offset = 0;
  }
  const sha256 = createHash("sha256");
  const gitOid = gitBlobHasher(file.size);
  if (offset > 0) {
    for await (const chunk of createReadStream(partial)) {
      sha256.update(chunk as Buffer);
      gitOid.update(chunk as Buffer);
    }
  }
  let bytes = offset;
  onProgress?.({ path: file.path, bytes, size: file.size, resumedFrom: offset });
  if (offset < file.size) {
    const sink = createWriteStream(partial, { flags: "a" });
    try {
      const blob = await downloadFile({
        repo: { type: "model", name: source.repo },
        path: file.path,
        revision: source.revision,
        hubUrl: source.hubUrl,
        accessToken: source.accessToken,
        fetch: fetchImpl ?? guardedFetch(source),
        // Plain HTTP with Range requests, so an interrupted file continues where it stopped.
        xet: false,
      });
      if (!blob) throw new HubError("download_failed", `${file.path} is listed but cannot be downloaded`);
      const body = Readable.fromWeb(blob.slice(offset).stream() as import("node:stream/web").ReadableStream<Uint8Array>);
      await pipeline(
        body,
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            sha256.update(chunk);
            gitOid.update(chunk);
            bytes += chunk.length;
            onProgress?.({ path: file.path, bytes, size: file.size, resumedFrom: offset });
            if (!sink.write(chunk)) sink.once("drain", () => done());
            else done();
          },
          final(done) {
            sink.end(done);
          },
        }),
      );
    } catch (error) {
      // What was received is on disk before the error is reported, so the next run continues from there.
      if (!sink.writableFinished) {
        sink.end();
        await finished(sink).catch(() => undefined);
      }
      if (error instanceof HubError) throw error;
      throw new HubError("download_failed", `${file.path}: download interrupted after ${bytes} of ${file.size} bytes (${describeNetworkError(error)}); run the command again to resume`, { cause: error });
    }
  }
  const size = statSync(partial).size;
  if (size !== file.size) {
    rmSync(partial);
    throw new HubError("size_mismatch", `${file.path}: got ${size} bytes, the Hub lists ${file.size}; the file was discarded`);
  }
  const [expected, actual] = file.sha256 ? [file.sha256, sha256.digest("hex")] : file.gitOid ? [file.gitOid, gitOid.digest("hex")] : [null, null];
  if (expected !== actual) {
    rmSync(partial);
    throw new HubError("checksum_mismatch", `${file.path}: ${file.sha256 ? "sha256" : "git blob id"} is ${actual}, the Hub lists ${expected}; the file was refused and deleted`);
  }
  renameSync(partial, target);
  return "downloaded";
}
