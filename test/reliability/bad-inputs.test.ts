/**
 * Throws every hostile or broken input in test/fixtures/bad-inputs/ (manifest.json, made by
 * tools/make_bad_inputs.ts) at the real API: POST /v1/transcriptions on the Node edge, which sniffs and fully
 * decodes uploads before storing them. Each refusal must be the expected 4xx with a clean
 * `{ error: { code, message } }`, nothing may be stored for it (no blob, no job, no outbox row), no request may
 * hang, and the server must still take a valid upload after the whole corpus. The few accepted controls
 * (8 channels, lying sizes over real audio, hostile filenames) must be stored under the service's own keys.
 */
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idempotencyKeys, jobs, outbox, usageRecords } from "../../db/schema.js";
import { manifestSchema, type AudioUrlServerRoute, type BadInput } from "../fixtures/bad-inputs/manifest.js";
import { edgeHarness, multipart, type EdgeHarness } from "../support/edge-harness.js";
import type { DatabaseKind } from "../support/database.js";

const corpusDir = new URL("../fixtures/bad-inputs/", import.meta.url);
const manifest = manifestSchema.parse(JSON.parse(readFileSync(new URL("manifest.json", corpusDir), "utf8")));
const corpusFile = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`files/${name}`, corpusDir)));

/** No single request may take longer: the slowest legitimate case is a 1 s audio_url timeout. */
const REQUEST_DEADLINE_MS = 15_000;
/** The local server binds here and only here is allow-listed, so 127.0.0.1 and localhost stay refused. */
const TEST_SERVER_HOST = "127.0.0.2";

// ---------------------------------------------------------------------------------------------------------
// The misbehaving audio_url server
// ---------------------------------------------------------------------------------------------------------

const TEN_MB = 10 * 1024 * 1024;

function serveRoute(route: string, res: ServerResponse, origin: string, loopbackPort: number): void {
  const text = (chunk: number): Buffer => Buffer.alloc(chunk, "this is not audio. ");
  /** Writes `total` bytes of text as fast as the client takes them (forever, for Infinity). */
  const writeMegabytes = (total: number): void => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total && !res.destroyed) {
        const chunk = text(Math.min(64 * 1024, total - sent));
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  };
  switch (route as AudioUrlServerRoute) {
    case "speech.wav":
      res.writeHead(200, { "content-type": "audio/wav" }).end(corpusFile("tone-8k-u8.wav"));
      return;
    case "not-audio.html":
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>hi</title><p>not audio</p>");
      return;
    case "big-non-audio":
      res.writeHead(200, { "content-type": "audio/wav", "content-length": String(TEN_MB) });
      writeMegabytes(TEN_MB);
      return;
    case "big-non-audio-chunked":
      res.writeHead(200, { "content-type": "audio/wav" });
      writeMegabytes(TEN_MB);
      return;
    case "endless-non-audio":
      res.writeHead(200, { "content-type": "audio/wav", "content-length": String(10 * 1024 * TEN_MB) });
      writeMegabytes(Infinity);
      return;
    case "endless-404":
      res.writeHead(404, { "content-type": "text/html" });
      writeMegabytes(Infinity);
      return;
    case "redirect-to-loopback":
      res.writeHead(302, { location: `http://127.0.0.1:${loopbackPort}/speech.wav` }).end();
      return;
    case "redirect-to-metadata":
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end();
      return;
    case "redirect-invalid-location":
      res.writeHead(302, { location: "http://[::1/speech.wav" }).end();
      return;
    case "redirect-loop":
      res.writeHead(302, { location: `${origin}/redirect-loop` }).end();
      return;
    case "slow-headers":
      return; // never answers; the connection is closed when the server stops
    case "slow-body": {
      res.writeHead(200, { "content-type": "audio/wav", "content-length": "100000" });
      res.write(corpusFile("tone-8k-u8.wav").subarray(0, 44));
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(Buffer.of(128))), 250);
      res.once("close", () => clearInterval(timer));
      return;
    }
    case "missing":
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
  }
  res.writeHead(500).end("unknown test route");
}

interface AudioUrlServer {
  origin: string;
  servers: Server[];
  /** Responses not yet finished or torn down: one the API gave up on must not stay open. */
  openResponses(): number;
}

async function startAudioUrlServer(): Promise<AudioUrlServer> {
  const listen = (server: Server, host: string): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
    });
  // A second server on 127.0.0.1, the target of a redirect that must never be followed.
  const loopback = createServer((_req, res) => res.writeHead(200, { "content-type": "audio/wav" }).end(corpusFile("tone-8k-u8.wav")));
  const loopbackPort = await listen(loopback, "127.0.0.1");
  let origin = "";
  let open = 0;
  const main = createServer((req, res) => {
    open++;
    res.once("close", () => open--);
    serveRoute((req.url ?? "/").slice(1), res, origin, loopbackPort);
  });
  origin = `http://${TEST_SERVER_HOST}:${await listen(main, TEST_SERVER_HOST)}`;
  return { origin, servers: [main, loopback], openResponses: () => open };
}

async function stopServers(servers: Server[]): Promise<void> {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

function padded(bytes: Uint8Array, size: number | undefined): Uint8Array {
  if (!size || size <= bytes.length) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes);
  return out;
}

function requestInit(input: BadInput, auth: Record<string, string>, origin: string): RequestInit {
  const request = input.request;
  switch (request.kind) {
    case "upload": {
      const data = padded(corpusFile(request.file), request.padToBytes);
      const form = multipart({ ...request.fields, file: { data, name: request.filename ?? request.file, type: request.contentType } });
      return { method: "POST", headers: { ...auth, ...request.headers }, body: form };
    }
    case "raw": {
      const headers: Record<string, string> = { ...auth };
      if (request.contentType !== null) headers["content-type"] = request.contentType;
      return { method: "POST", headers, body: corpusFile(request.file) as Uint8Array<ArrayBuffer> };
    }
    case "json": {
      const body =
        request.paddingBytes && request.body && typeof request.body === "object"
          ? { ...request.body, padding: "x".repeat(request.paddingBytes) }
          : request.body;
      return { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) };
    }
    case "audio_url": {
      const url = request.serverRoute ? `${origin}/${request.serverRoute}` : request.url;
      return { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ audio_url: url }) };
    }
  }
}

/** The response, or a failure naming the input when it does not come within the deadline (a hang). */
async function within<T>(name: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no response within ${REQUEST_DEADLINE_MS} ms`)), REQUEST_DEADLINE_MS);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `done()` becomes true within `ms`. */
async function settles(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return done();
}

/** Everything a request could leave behind. */
async function storedState(h: EdgeHarness): Promise<Record<string, number>> {
  const rows = async (table: typeof jobs | typeof outbox | typeof usageRecords | typeof idempotencyKeys): Promise<number> =>
    (await h.database.db.select({ n: count() }).from(table))[0]!.n;
  return {
    blobs: await h.blobCount(),
    jobs: await rows(jobs),
    outbox: await rows(outbox),
    usage: await rows(usageRecords),
    idempotency: await rows(idempotencyKeys),
  };
}

const STORAGE_KEY = /^audio\/[0-9a-f-]{36}\/tr_[0-9a-z]{24}$/;

/** Every key in the file blob store: the paths of its files under its root. */
async function blobKeys(dir: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const key = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) keys.push(...(await blobKeys(`${dir}/${entry.name}`, key)));
    else keys.push(key);
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------------------
// The corpus against both database kinds
// ---------------------------------------------------------------------------------------------------------

const kinds: readonly DatabaseKind[] = process.env.BAD_INPUTS_POSTGRES_ONLY ? ["postgres"] : ["postgres", "pglite"];

describe("the bad-input corpus", () => {
  it("is big enough and names every expected code", () => {
    expect(manifest.inputs.length).toBeGreaterThanOrEqual(40);
    for (const input of manifest.inputs) {
      if (input.expect.status === 202) expect(input.expect.code).toBeUndefined();
      else {
        expect(input.expect.status).toBeGreaterThanOrEqual(400);
        expect(input.expect.status).toBeLessThan(500);
        expect(input.expect.code).toMatch(/^[a-z_]+$/);
      }
    }
  });
});

describe.each(kinds)("bad inputs against POST /v1/transcriptions on %s", (kind) => {
  let h: EdgeHarness;
  let server: AudioUrlServer;
  let origin: string;

  beforeAll(async () => {
    server = await startAudioUrlServer();
    origin = server.origin;
    h = await edgeHarness(kind, {
      limits: manifest.limits,
      rateLimits: { requestsPerMinute: 100_000 },
      network: { allowPrivateTargets: [TEST_SERVER_HOST] },
    });
  });
  afterAll(async () => {
    await h?.cleanup();
    if (server) await stopServers(server.servers);
  });

  const send = (input: BadInput): Promise<Response> =>
    within(input.name, Promise.resolve(h.app.request("/v1/transcriptions", requestInit(input, h.auth(), origin))));

  const refused = manifest.inputs.filter((input) => input.expect.status !== 202);
  const accepted = manifest.inputs.filter((input) => input.expect.status === 202);

  it.each(refused.map((input) => [`${input.name} → ${input.expect.status} ${input.expect.code}`, input] as const))(
    "%s",
    async (_label, input) => {
      const before = await storedState(h);
      const res = await send(input);
      const body: unknown = await res.json();
      expect({ status: res.status, body }).toEqual({
        status: input.expect.status,
        body: { error: { code: input.expect.code, message: expect.any(String) } },
      });
      const message = (body as { error: { message: string } }).error.message;
      expect(message.length).toBeGreaterThan(0);
      expect(message).not.toMatch(/\n\s+at /); // no stack trace
      expect(await storedState(h)).toEqual(before);
      if (input.request.kind === "audio_url" && input.request.serverRoute) {
        // A body the API refused must be cancelled at once, not left open with its socket until the download
        // timeout (1 s here, 30 s by default) aborts it: well before that.
        expect(await settles(() => server.openResponses() === 0, manifest.limits.audioUrlTimeoutMs / 4)).toBe(true);
      }
    },
  );

  it.each(accepted.map((input) => [input.name, input] as const))("%s → 202, stored only under the service's own key", async (_name, input) => {
    const before = await storedState(h);
    const res = await send(input);
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(202);
    const created = (await res.json()) as { id: string; duration_seconds: number };
    const [row] = await h.database.db.select().from(jobs).where(eq(jobs.id, created.id));
    expect(row).toBeDefined();
    expect(row!.audioKey).toMatch(STORAGE_KEY);
    expect(row!.audioKey!.endsWith(`/${created.id}`)).toBe(true);
    // The display name keeps no path, no control characters, and a bounded length.
    if (row!.filename !== null) {
      expect(row!.filename).not.toMatch(/[/\\\u0000-\u001f\u007f]/);
      expect(row!.filename.length).toBeLessThanOrEqual(255);
      expect(row!.filename).not.toMatch(/^\.\.?$/);
    }
    // Billed on what decodes: every control holds 0.5 s of audio, whatever its header claims.
    expect(created.duration_seconds).toBeCloseTo(0.5, 2);
    expect(await storedState(h)).toMatchObject({ blobs: before.blobs + 1, jobs: before.jobs + 1 });
    for (const key of await blobKeys(h.blobDir)) expect(key).toMatch(STORAGE_KEY);
  });

  it("still accepts a valid upload after the whole corpus", async () => {
    const res = await within(
      "valid upload",
      Promise.resolve(
        h.app.request("/v1/transcriptions", {
          method: "POST",
          headers: h.auth(),
          body: multipart({ file: { data: corpusFile("tone-8k-u8.wav"), name: "after-the-corpus.wav", type: "audio/wav" }, language: "en" }),
        }),
      ),
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "queued", audio: { filename: "after-the-corpus.wav" } });
    expect((await h.app.request("/healthz")).status).toBe(200);
  });
});

// The OpenAI-compatible route runs the same upload checks; its errors come in OpenAI's shape.
describe("bad uploads against POST /v1/audio/transcriptions (OpenAI-compatible) on postgres", () => {
  let h: EdgeHarness;
  beforeAll(async () => {
    h = await edgeHarness("postgres", { limits: manifest.limits, rateLimits: { requestsPerMinute: 100_000 } });
  });
  afterAll(() => h?.cleanup());

  // Idempotency-Key: this route has no header schema, so a 300-character key is invalid_idempotency_key here.
  const uploads = manifest.inputs.filter((input) => input.request.kind === "upload" && !input.request.headers && input.expect.status !== 202);

  it.each(uploads.map((input) => [`${input.name} → ${input.expect.status} ${input.expect.code}`, input] as const))("%s", async (_label, input) => {
    const before = await storedState(h);
    const init = requestInit(input, h.auth(), "");
    const res = await within(input.name, Promise.resolve(h.app.request("/v1/audio/transcriptions", init)));
    expect(res.status).toBe(input.expect.status);
    expect(await res.json()).toEqual({
      error: { code: input.expect.code, message: expect.any(String), type: "invalid_request_error", param: null },
    });
    expect(await storedState(h)).toEqual(before);
  });
});
