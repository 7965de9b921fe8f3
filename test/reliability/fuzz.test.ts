/**
 * Fuzzing the code that reads untrusted audio: the header parsers (sniffAudioFormat, probeAudioHeader and
 * their WAV, FLAC, MP4, Ogg and EBML paths) and decodeAudio. Inputs are random bytes and valid files with the
 * damage that hostile uploads carry: bit flips, truncation, and size or count fields set to 0, to huge values
 * and to "negative" ones read as unsigned. The rules:
 *   - sniffing never throws; probing and decoding throw nothing but AudioError;
 *   - no input takes long (parsers: milliseconds; a decode: a few seconds at most);
 *   - no input makes them allocate much: parsers return views, decoding is bounded by the duration limit.
 *
 * decodeAudio runs in a worker thread with a capped heap, so that a hang (vitest cannot interrupt a synchronous
 * or WASM loop) or a runaway allocation fails one input instead of taking the test run down with it.
 * FUZZ_RUNS=<n> multiplies the run counts for a longer local session; FUZZ_SEED replays a failure.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIO_ERROR_CODES, AudioError, checkAudioLimits, probeAudioHeader, sniffAudioFormat, type AudioErrorCode } from "../../shared/audio-sniff.js";

const RUN_SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (n: number): { numRuns: number; seed?: number } => ({ numRuns: Math.max(1, Math.round(n * RUN_SCALE)), ...(SEED !== undefined && { seed: SEED }) });

const MiB = 1024 * 1024;
/** Per test, scaled with the run counts. */
const TEST_TIMEOUT_MS = 60_000 * Math.max(1, RUN_SCALE);
/** A parser call on at most a few hundred KB; generous for a busy 2-core machine. */
const PARSER_TIME_LIMIT_MS = 200;
/** One decode of a ≤ 300 KB file, WASM compilation of its decoder included. */
const DECODE_TIME_LIMIT_MS = 8_000;
const AUDIO_ERROR_CODE_SET = new Set<string>(AUDIO_ERROR_CODES);

const formatsDir = new URL("../fixtures/audio/formats/", import.meta.url);
const fixtures = readdirSync(formatsDir)
  .filter((name) => name.startsWith("speech"))
  .sort()
  .map((name) => ({ name, bytes: new Uint8Array(readFileSync(new URL(name, formatsDir))) }));

// ---------------------------------------------------------------------------------------------------------
// Where the size and count fields of each container are, so mutations hit them and not just sample data
// ---------------------------------------------------------------------------------------------------------

type Endian = "le" | "be";

interface SizeField {
  at: number;
  width: 1 | 2 | 3 | 4 | 8;
  endian: Endian;
}

const u32be = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const u32le = (b: Uint8Array, at: number): number => ((b[at + 3]! << 24) | (b[at + 2]! << 16) | (b[at + 1]! << 8) | b[at]!) >>> 0;
const ascii4 = (b: Uint8Array, at: number): string => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/** RIFF size, every chunk size, and the fmt fields that size the samples (channels, rate, block align, bits). */
function wavFields(b: Uint8Array): SizeField[] {
  const fields: SizeField[] = [{ at: 4, width: 4, endian: "le" }];
  for (let at = 12; at + 8 <= b.length; ) {
    const size = u32le(b, at + 4);
    fields.push({ at: at + 4, width: 4, endian: "le" });
    if (ascii4(b, at) === "fmt ") {
      for (const [offset, width] of [[2, 2], [4, 4], [12, 2], [14, 2]] as const) fields.push({ at: at + 8 + offset, width, endian: "le" });
    }
    if (ascii4(b, at) === "data") break;
    at += 8 + size + (size & 1);
  }
  return fields;
}

/** Every metadata block length (24-bit), and STREAMINFO's rate/channels/total-samples bytes. */
function flacFields(b: Uint8Array): SizeField[] {
  const fields: SizeField[] = [10, 12, 13, 14, 18, 21].map((at) => ({ at, width: 1 as const, endian: "be" as const }));
  fields.push({ at: 22, width: 4, endian: "be" });
  for (let at = 4; at + 4 <= b.length; ) {
    fields.push({ at: at + 1, width: 3, endian: "be" });
    const last = b[at]! & 0x80;
    at += 4 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
    if (last) break;
  }
  return fields;
}

const MP4_CONTAINERS = new Set(["moov", "trak", "mdia", "minf", "stbl", "udta", "edts", "mvex", "moof", "traf"]);
const MP4_COUNTED = new Set(["stsz", "stco", "co64", "stsc", "stts", "elst", "stsd", "trun", "mdhd"]);

/** Every box size, and the version/size/count words of the sample tables and headers. */
function mp4Fields(b: Uint8Array, from = 0, to = b.length, fields: SizeField[] = []): SizeField[] {
  for (let at = from; at + 8 <= to; ) {
    const size = u32be(b, at);
    const type = ascii4(b, at + 4);
    fields.push({ at, width: 4, endian: "be" });
    if (size < 8) break;
    if (MP4_CONTAINERS.has(type)) mp4Fields(b, at + 8, Math.min(at + size, to), fields);
    if (MP4_COUNTED.has(type)) for (const offset of [8, 12, 16, 20]) if (at + offset + 4 <= to) fields.push({ at: at + offset, width: 4, endian: "be" });
    at += size;
  }
  return fields;
}

/** Per page: granule position, serial, segment count and every lacing value; the first packet's header fields. */
function oggFields(b: Uint8Array): SizeField[] {
  const fields: SizeField[] = [];
  for (let at = 0; at + 27 <= b.length && ascii4(b, at) === "OggS"; ) {
    fields.push({ at: at + 6, width: 8, endian: "le" }, { at: at + 14, width: 4, endian: "le" }, { at: at + 26, width: 1, endian: "le" });
    const segments = b[at + 26]!;
    let body = 0;
    for (let i = 0; i < segments; i++) {
      fields.push({ at: at + 27 + i, width: 1, endian: "le" });
      body += b[at + 27 + i]!;
    }
    if (at === 0) for (const offset of [9, 10, 11, 12]) fields.push({ at: at + 27 + segments + offset, width: 1, endian: "le" });
    at += 27 + segments + body;
  }
  return fields;
}

const EBML_MASTERS = new Set([0x1a45dfa3, 0x18538067, 0x1549a966, 0x1654ae6b, 0xae, 0xe1, 0x1f43b675, 0xa0, 0x114d9b74, 0x4dbb]);

/** The size (a variable-length integer) of every element, descending into the master elements. */
function ebmlFields(b: Uint8Array, from = 0, to = b.length, fields: SizeField[] = [], depth = 0): SizeField[] {
  const vintLength = (first: number): number => (first === 0 ? 0 : 1 + Math.clz32(first) - 24);
  for (let at = from; at < to && depth < 8; ) {
    const idLength = vintLength(b[at]!);
    if (idLength === 0 || idLength > 4 || at + idLength >= to) break;
    let id = 0;
    for (let i = 0; i < idLength; i++) id = id * 256 + b[at + i]!;
    const sizeAt = at + idLength;
    const sizeLength = vintLength(b[sizeAt]!);
    if (sizeLength === 0 || sizeAt + sizeLength > to) break;
    let size = b[sizeAt]! & (0xff >> sizeLength);
    for (let i = 1; i < sizeLength; i++) size = size * 256 + b[sizeAt + i]!;
    fields.push({ at: sizeAt, width: Math.min(sizeLength, 8) as SizeField["width"], endian: "be" });
    const body = sizeAt + sizeLength;
    const unknown = size === 2 ** (7 * sizeLength) - 1;
    if (EBML_MASTERS.has(id)) ebmlFields(b, body, unknown ? to : Math.min(body + size, to), fields, depth + 1);
    if (unknown) break;
    at = body + size;
  }
  return fields;
}

function sizeFields(name: string, bytes: Uint8Array): SizeField[] {
  if (name.endsWith(".wav")) return wavFields(bytes);
  if (name.endsWith(".flac")) return flacFields(bytes);
  if (name.endsWith(".m4a")) return mp4Fields(bytes);
  if (name.endsWith(".ogg")) return oggFields(bytes);
  if (name.endsWith(".webm")) return ebmlFields(bytes);
  return []; // mp3: no sizes beyond the ID3 tag's; bit flips and truncation cover it
}

const targets = fixtures.map((fixture) => ({ ...fixture, fields: sizeFields(fixture.name, fixture.bytes) }));

// ---------------------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------------------

/** Values a lying size field takes: none, tiny, one off a boundary, huge, and negative numbers read as unsigned. */
const HOSTILE_VALUES = [0, 1, 2, 7, 8, 15, 16, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0xffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 2 ** 53 - 1];

function writeField(bytes: Uint8Array, field: SizeField, value: number): void {
  let rest = BigInt(Math.floor(value));
  const mask = (1n << BigInt(8 * field.width)) - 1n;
  rest &= mask;
  for (let i = 0; i < field.width; i++) {
    const at = field.endian === "le" ? field.at + i : field.at + field.width - 1 - i;
    if (at < bytes.length) bytes[at] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

type Mutation =
  | { kind: "size"; field: number; value: number }
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; bytes: Uint8Array }
  | { kind: "truncate"; at: number }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate"; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("size" as const), field: fc.nat(), value: fc.oneof(fc.constantFrom(...HOSTILE_VALUES), fc.nat()) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 4096 }) }) },
);

/** Mutations land mostly in the first 4 KB, where the headers are, but anywhere in the file too. */
function applyMutations(source: Uint8Array, fields: SizeField[], mutations: Mutation[], headerBias: boolean): Uint8Array {
  let bytes = source.slice();
  const position = (at: number): number => (headerBias ? at % Math.min(bytes.length + 1, 4096) : at % (bytes.length + 1));
  for (const m of mutations) {
    if (m.kind === "size" && fields.length > 0) writeField(bytes, fields[m.field % fields.length]!, m.value);
    else if (m.kind === "flip" && bytes.length > 0) bytes[position(m.at) % bytes.length]! ^= 1 << m.bit;
    else if (m.kind === "set") bytes.set(m.bytes.subarray(0, Math.max(0, bytes.length - position(m.at))), position(m.at));
    else if (m.kind === "truncate") bytes = bytes.slice(0, m.at % (bytes.length + 1));
    else if (m.kind === "delete") {
      const at = position(m.at);
      bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]);
    } else if (m.kind === "duplicate") {
      const at = position(m.at);
      const copy = bytes.slice(at, at + m.length);
      bytes = Uint8Array.from([...bytes.subarray(0, at), ...copy, ...bytes.subarray(at)]);
    }
  }
  return bytes;
}

const mutatedFile = (headerBias: boolean, pool = targets, kinds: fc.Arbitrary<Mutation> = mutation): fc.Arbitrary<{ name: string; bytes: Uint8Array }> =>
  fc
    .record({ target: fc.nat({ max: pool.length - 1 }), mutations: fc.array(kinds, { minLength: 1, maxLength: 6 }) })
    .map(({ target, mutations }) => {
      const { name, bytes, fields } = pool[target]!;
      return { name, bytes: applyMutations(bytes, fields, mutations, headerBias) };
    });

/** Only size and count fields, set to hostile values: what the MP4 demuxer trusted before decode.ts checked it. */
const sizeMutation: fc.Arbitrary<Mutation> = fc.record({ kind: fc.constant("size" as const), field: fc.nat(), value: fc.constantFrom(...HOSTILE_VALUES) });

// ---------------------------------------------------------------------------------------------------------
// The header parsers, in process: fast, pure, bounded by their input
// ---------------------------------------------------------------------------------------------------------

/** Runs the parsers on one input and checks every rule; returns nothing, throws on a broken rule. */
function checkParsers(bytes: Uint8Array, totalBytes?: number): void {
  const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  sniffAudioFormat(bytes); // must not throw at all
  try {
    const info = probeAudioHeader(bytes, totalBytes === undefined ? {} : { totalBytes });
    for (const value of [info.sampleRate, info.channels, info.durationSeconds]) {
      if (value !== undefined) expect(Number.isFinite(value) && value >= 0, `declared value ${value}`).toBe(true);
    }
    if (info.wav) {
      const whole = Math.max(bytes.length, totalBytes ?? 0);
      expect(info.wav.dataOffset + info.wav.dataBytes).toBeLessThanOrEqual(whole);
      expect(info.wav.dataBytes % info.wav.blockAlign).toBe(0);
    }
    try {
      checkAudioLimits(info);
    } catch (error) {
      if (!(error instanceof AudioError)) throw error;
    }
  } catch (error) {
    if (!(error instanceof AudioError)) throw error;
    expect(AUDIO_ERROR_CODE_SET.has(error.code)).toBe(true);
  }
  expect(performance.now() - started).toBeLessThan(PARSER_TIME_LIMIT_MS);
  // The parsers read views of the input: nothing they keep or leave for the collector may be large.
  expect(process.memoryUsage().arrayBuffers - arrayBuffersBefore).toBeLessThan(16 * MiB);
}

describe("header parsers: sniffAudioFormat and probeAudioHeader", () => {
  it("on random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 8192 }), (bytes) => checkParsers(bytes)), runs(2000));
  }, TEST_TIMEOUT_MS);

  it("on valid files with size fields, bits and lengths mutated in their headers", () => {
    fc.assert(fc.property(mutatedFile(true), ({ bytes }) => checkParsers(bytes)), runs(3000));
  }, TEST_TIMEOUT_MS);

  it("on mutated files read as the first chunk of a longer upload (totalBytes up to 2^53)", () => {
    const total = fc.oneof(fc.constantFrom(0, 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER), fc.nat());
    const prefix = fc.tuple(mutatedFile(true), fc.nat({ max: 65_536 })).map(([file, cut]) => file.bytes.subarray(0, cut));
    fc.assert(fc.property(prefix, total, (bytes, totalBytes) => checkParsers(bytes, totalBytes)), runs(1500));
  }, TEST_TIMEOUT_MS);

  it("on every size field of every format set to every hostile value", () => {
    let cases = 0;
    for (const { bytes, fields } of targets) {
      for (const field of fields.slice(0, 400)) {
        for (const value of HOSTILE_VALUES) {
          const mutated = bytes.slice(0, 64 * 1024);
          writeField(mutated, field, value);
          checkParsers(mutated);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(1000);
  });
});

// ---------------------------------------------------------------------------------------------------------
// decodeAudio, in a worker thread that can be stopped
// ---------------------------------------------------------------------------------------------------------

/** What the worker reports for one input. */
type DecodeOutcome =
  | { id: number; kind: "decoded"; durationSeconds: number; samples: number; expectedSamples: number; allFinite: boolean; peak: number; ms: number; arrayBuffers: number }
  | { id: number; kind: "audio-error"; code: string; message: string; ms: number; arrayBuffers: number }
  | { id: number; kind: "other-error"; name: string; message: string; ms: number; arrayBuffers: number };

const DECODE_LIMITS = { maxDurationSeconds: 30, minDurationSeconds: 0.1 };

/** Evaluated in the worker (from the repository root): registers tsx to import the TypeScript decoder, then decodes on request. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
import("tsx/esm/api").then(({ register }) => {
  register();
  return import(workerData.decodeModule);
}).then(({ decodeAudio }) => {
  parentPort.on("message", async ({ id, bytes }) => {
    if (bytes === null) for (;;); // the harness's own test: a hang only terminate() ends
    const started = performance.now();
    const report = (outcome) => parentPort.postMessage({ id, ms: performance.now() - started, arrayBuffers: process.memoryUsage().arrayBuffers, ...outcome });
    try {
      const audio = await decodeAudio(bytes, workerData.limits);
      let peak = 0, allFinite = true;
      for (const x of audio.pcm) { if (!Number.isFinite(x)) allFinite = false; else peak = Math.max(peak, Math.abs(x)); }
      report({ kind: "decoded", durationSeconds: audio.durationSeconds, samples: audio.pcm.length, expectedSamples: Math.round(audio.durationSeconds * 16000), allFinite, peak });
    } catch (error) {
      if (error && error.name === "AudioError") report({ kind: "audio-error", code: error.code, message: String(error.message) });
      else report({ kind: "other-error", name: String(error && error.name), message: String(error && error.stack || error) });
    }
  });
  parentPort.postMessage("ready");
});
`;

/** One worker thread and the answers it still owes; a replaced worker's late exit settles only its own. */
interface RunningWorker {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, (outcome: DecodeOutcome | Error) => void>;
}

class DecodeWorker {
  private current: RunningWorker | null = null;
  private nextId = 0;

  private start(): RunningWorker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        decodeModule: new URL("../../gpu-worker/audio/decode.ts", import.meta.url).href,
        limits: DECODE_LIMITS,
      },
      // A decode that tries to hold gigabytes dies here, alone, as ERR_WORKER_OUT_OF_MEMORY.
      resourceLimits: { maxOldGenerationSizeMb: 384, maxYoungGenerationSizeMb: 64 },
    });
    const pending = new Map<number, (outcome: DecodeOutcome | Error) => void>();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (message: DecodeOutcome | "ready") => {
        if (message === "ready") return resolve();
        pending.get(message.id)?.(message);
        pending.delete(message.id);
      });
    });
    const running: RunningWorker = { worker, ready, pending };
    const fail = (error: Error): void => {
      for (const settle of pending.values()) settle(error);
      pending.clear();
      if (this.current === running) this.current = null;
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`decode worker exited (code ${code})`)));
    return running;
  }

  /** The outcome, or an Error when the worker hung (it is terminated and replaced), crashed or ran out of memory. */
  async decode(bytes: Uint8Array | null, timeoutMs: number): Promise<DecodeOutcome | Error> {
    const running = (this.current ??= this.start());
    await running.ready;
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        running.pending.delete(id);
        if (this.current === running) this.current = null;
        void running.worker.terminate();
        resolve(new Error(`no answer within ${timeoutMs} ms (a hang): worker terminated`));
      }, timeoutMs);
      running.pending.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
      running.worker.postMessage({ id, bytes });
    });
  }

  async stop(): Promise<void> {
    await this.current?.worker.terminate();
  }
}

/** Keeps a failing input for replaying by hand, and says where. */
function saveCounterexample(bytes: Uint8Array, source: string): string {
  const path = join(tmpdir(), `decode-fuzz-${Date.now()}-${source}`);
  writeFileSync(path, bytes);
  return path;
}

describe("decodeAudio on mutated valid files (worker thread, time and heap limits)", () => {
  const worker = new DecodeWorker();
  beforeAll(async () => {
    // Warm every decoder once (WASM compilation), so the per-input limit measures decoding.
    for (const { bytes } of fixtures) expect(await worker.decode(bytes, 30_000)).toMatchObject({ kind: "decoded" });
  }, 120_000);
  afterAll(() => worker.stop());

  /** Decodes every input the arbitrary makes and checks the rules; returns how often each outcome came up. */
  async function checkDecodes(inputs: fc.Arbitrary<{ name: string; bytes: Uint8Array }>, numRuns: number): Promise<Map<string, number>> {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(inputs, async ({ name, bytes }) => {
        const outcome = await worker.decode(bytes, DECODE_TIME_LIMIT_MS);
        const where = (): string => `${name}, ${bytes.length} bytes, saved as ${saveCounterexample(bytes, name)}`;
        if (outcome instanceof Error) throw new Error(`${outcome.message} (${where()})`);
        if (outcome.kind === "other-error") throw new Error(`threw ${outcome.name}, not AudioError: ${outcome.message} (${where()})`);
        if (outcome.arrayBuffers >= 256 * MiB) throw new Error(`${outcome.arrayBuffers} bytes of array buffers after decoding (${where()})`);
        if (outcome.kind === "audio-error") {
          expect(AUDIO_ERROR_CODE_SET.has(outcome.code as AudioErrorCode), `code ${outcome.code}`).toBe(true);
          outcomes.set(outcome.code, (outcomes.get(outcome.code) ?? 0) + 1);
          return;
        }
        outcomes.set("decoded", (outcomes.get("decoded") ?? 0) + 1);
        expect(outcome.durationSeconds).toBeGreaterThanOrEqual(DECODE_LIMITS.minDurationSeconds);
        expect(outcome.durationSeconds).toBeLessThanOrEqual(DECODE_LIMITS.maxDurationSeconds);
        expect(outcome.samples).toBe(outcome.expectedSamples);
        expect(outcome.allFinite).toBe(true);
        expect(outcome.peak).toBeLessThanOrEqual(1);
      }),
      { ...runs(numRuns), endOnFailure: true },
    );
    return outcomes;
  }

  it("returns audio within the limits or throws AudioError, for every input", async () => {
    const outcomes = await checkDecodes(fc.oneof(mutatedFile(true), mutatedFile(false)), 300);
    // The mutations must reach both sides: files that still decode and files that are refused.
    expect(outcomes.get("decoded") ?? 0).toBeGreaterThan(0);
    expect([...outcomes.keys()].filter((key) => key !== "decoded").length).toBeGreaterThan(1);
  }, 10 * TEST_TIMEOUT_MS);

  it("survives M4A box sizes and sample-table counts set to hostile values (these crashed the process before)", async () => {
    const m4a = targets.filter(({ name }) => name.endsWith(".m4a"));
    const outcomes = await checkDecodes(mutatedFile(true, m4a, sizeMutation), 150);
    expect(outcomes.get("undecodable_audio") ?? 0).toBeGreaterThan(0);
  }, 10 * TEST_TIMEOUT_MS);

  it("stops a hung decode and keeps going (the harness itself works)", async () => {
    // null makes the worker spin forever: it is terminated at the limit and the next call starts a new one.
    const outcome = await worker.decode(null, 500);
    expect(outcome).toBeInstanceOf(Error);
    expect(await worker.decode(fixtures[0]!.bytes, 30_000)).toMatchObject({ kind: "decoded" });
  }, 60_000);
});

