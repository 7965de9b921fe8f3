/**
 * Regenerates test/fixtures/bad-inputs/: hostile or broken uploads and requests, and manifest.json saying
 * how each is sent and what the API must answer. The outputs are committed; tests never run this.
 *
 *   npx tsx tools/make_bad_inputs.ts      # needs ffmpeg (5.1 with libopus, libmp3lame) for the few long
 *                                          # silent files; everything else is built byte by byte here
 *
 * Sources are the committed samples in test/fixtures/audio/formats/ (tools/make_audio_fixtures.sh), cut or
 * patched at known offsets. Reproducible: no randomness, ffmpeg runs with bitexact flags and no metadata.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AudioUrlServerRoute, BadInput, BadInputManifest } from "../test/fixtures/bad-inputs/manifest.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const SOURCES = join(root, "test/fixtures/audio/formats");
const OUT = join(root, "test/fixtures/bad-inputs");
const FILES = join(OUT, "files");

/** The limits every expectation below assumes; the test configures the API with them. */
const LIMITS: BadInputManifest["limits"] = {
  maxUploadBytes: 1_000_000,
  maxDurationSeconds: 5,
  minDurationSeconds: 0.1,
  maxJsonBytes: 64 * 1024,
  audioUrlTimeoutMs: 1_000,
};

const BOUNDARY = "bad-input-boundary-7f3a";
const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

const source = (name: string): Uint8Array => new Uint8Array(readFileSync(join(SOURCES, name)));
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (ch) => ch.charCodeAt(0) & 0xff);
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function indexOf(bytes: Uint8Array, needle: string, from = 0): number {
  const n = ascii(needle);
  outer: for (let i = from; i + n.length <= bytes.length; i++) {
    for (let k = 0; k < n.length; k++) if (bytes[i + k] !== n[k]) continue outer;
    return i;
  }
  throw new Error(`"${needle}" not found`);
}

// ---------------------------------------------------------------------------------------------------------
// WAV
// ---------------------------------------------------------------------------------------------------------

interface WavSpec {
  formatTag?: number;
  channels?: number;
  sampleRate?: number;
  bitsPerSample?: number;
  /** Defaults to channels × bytes per sample; some entries lie about it. */
  blockAlign?: number;
  data: Uint8Array;
  /** Size fields as written; default to the true sizes. */
  riffSize?: number;
  dataSize?: number;
  fmtSize?: number;
  /** Chunks between fmt and data, already framed. */
  between?: Uint8Array;
}

function wav(spec: WavSpec): Uint8Array {
  const channels = spec.channels ?? 1;
  const sampleRate = spec.sampleRate ?? 16_000;
  const bits = spec.bitsPerSample ?? 16;
  const blockAlign = spec.blockAlign ?? (channels * Math.ceil(bits / 8)) & 0xffff;
  const between = spec.between ?? new Uint8Array(0);
  const head = new Uint8Array(44);
  const v = new DataView(head.buffer);
  head.set(ascii("RIFF"), 0);
  v.setUint32(4, spec.riffSize ?? (36 + between.length + spec.data.length) >>> 0, true);
  head.set(ascii("WAVEfmt "), 8);
  v.setUint32(16, spec.fmtSize ?? 16, true);
  v.setUint16(20, spec.formatTag ?? 1, true);
  v.setUint16(22, channels & 0xffff, true);
  v.setUint32(24, sampleRate >>> 0, true);
  v.setUint32(28, (sampleRate * blockAlign) >>> 0, true);
  v.setUint16(32, blockAlign, true);
  v.setUint16(34, bits, true);
  const dataHeader = new Uint8Array(8);
  dataHeader.set(ascii("data"), 0);
  new DataView(dataHeader.buffer).setUint32(4, spec.dataSize ?? spec.data.length, true);
  return concat(head.subarray(0, 36), between, dataHeader, spec.data);
}

/** A RIFF chunk: id, little-endian size as given (it may lie), payload. */
function riffChunk(id: string, declaredSize: number, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(8);
  header.set(ascii(id), 0);
  new DataView(header.buffer).setUint32(4, declaredSize >>> 0, true);
  return concat(header, payload);
}

/** Unsigned 8-bit PCM tone (deterministic), `channels` interleaved, each channel its own pitch. */
function toneU8(seconds: number, sampleRate: number, channels = 1): Uint8Array {
  const frames = Math.round(seconds * sampleRate);
  const out = new Uint8Array(frames * channels);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) out[i * channels + c] = 128 + Math.round(60 * Math.sin((2 * Math.PI * (300 + 110 * c) * i) / sampleRate));
  }
  return out;
}

function float32Samples(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setFloat32(i * 4, x, true));
  return out;
}

/** 0.5 s of 16 kHz float with one bad value in the middle: NaN and ±Inf pass any header check. */
function floatWavWith(bad: number): Uint8Array {
  const values = Array.from({ length: 8000 }, (_, i) => 0.25 * Math.sin((2 * Math.PI * 440 * i) / 16_000));
  values[4000] = bad;
  return wav({ formatTag: 3, bitsPerSample: 32, data: float32Samples(values) });
}

// ---------------------------------------------------------------------------------------------------------
// FLAC, MP3, MP4 header patches
// ---------------------------------------------------------------------------------------------------------

/** STREAMINFO starts at 8 (after "fLaC" and the block header); sample rate and total samples are bit fields. */
function flacWithStreamInfo(bytes: Uint8Array, patch: { sampleRate?: number; totalSamples?: number }): Uint8Array {
  const out = bytes.slice();
  const info = 8;
  if (patch.sampleRate !== undefined) {
    const rate = patch.sampleRate;
    out[info + 10] = (rate >> 12) & 0xff;
    out[info + 11] = (rate >> 4) & 0xff;
    out[info + 12] = ((rate & 0x0f) << 4) | (out[info + 12]! & 0x0f);
  }
  if (patch.totalSamples !== undefined) {
    const total = patch.totalSamples;
    out[info + 13] = (out[info + 13]! & 0xf0) | Math.floor(total / 2 ** 32);
    new DataView(out.buffer).setUint32(info + 14, total % 2 ** 32, false);
  }
  return out;
}

/** The FLAC file with the length of its second metadata block (after STREAMINFO) set to `length`. */
function flacWithSecondBlockLength(bytes: Uint8Array, length: number): Uint8Array {
  const out = bytes.slice();
  const second = 8 + 34;
  if (out[second]! & 0x80) throw new Error("STREAMINFO is the last metadata block");
  out[second + 1] = (length >> 16) & 0xff;
  out[second + 2] = (length >> 8) & 0xff;
  out[second + 3] = length & 0xff;
  return out;
}

/** The FLAC file with the "last metadata block" flag cleared on every block. */
function flacWithoutLastFlag(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  let at = 4;
  for (;;) {
    const last = out[at]! & 0x80;
    out[at] = out[at]! & 0x7f;
    at += 4 + ((out[at + 1]! << 16) | (out[at + 2]! << 8) | out[at + 3]!);
    if (last) return out;
  }
}

/** The frame count in the LAME/Xing "Info" header of the first MP3 frame. */
function mp3WithXingFrames(bytes: Uint8Array, frames: number): Uint8Array {
  const out = bytes.slice();
  const at = indexOf(out, "Info");
  new DataView(out.buffer).setUint32(at + 8, frames >>> 0, false);
  return out;
}

/** Payload offset of the box at `path` (e.g. moov/trak/mdia/mdhd), walking only the containers named. */
function mp4BoxPayload(bytes: Uint8Array, path: string[]): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let from = 0;
  let to = bytes.length;
  for (const type of path) {
    let at = from;
    let found = -1;
    while (at + 8 <= to) {
      const size = v.getUint32(at, false);
      if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === type) {
        found = at;
        break;
      }
      if (size < 8) break;
      at += size;
    }
    if (found < 0) throw new Error(`box ${path.join("/")} not found`);
    from = found + 8;
    to = found + v.getUint32(found, false);
  }
  return from;
}

function patchU32be(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(at, value >>> 0, false);
  return out;
}

function patchU16be(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint16(at, value, false);
  return out;
}

/** An MP4 box tree: containers hold boxes, leaves hold their payload. */
interface Mp4Box {
  type: string;
  payload: Uint8Array | Mp4Box[];
}

const MP4_REBUILT_CONTAINERS = new Set(["moov", "trak", "mdia", "minf", "stbl"]);

function parseMp4(bytes: Uint8Array, from = 0, to = bytes.length): Mp4Box[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: Mp4Box[] = [];
  for (let at = from; at + 8 <= to; ) {
    const size = v.getUint32(at, false);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    boxes.push({ type, payload: MP4_REBUILT_CONTAINERS.has(type) ? parseMp4(bytes, at + 8, at + size) : bytes.slice(at + 8, at + size) });
    at += size;
  }
  return boxes;
}

function serializeMp4(boxes: Mp4Box[]): Uint8Array {
  return concat(
    ...boxes.map(({ type, payload }) => {
      const body = payload instanceof Uint8Array ? payload : serializeMp4(payload);
      const header = new Uint8Array(8);
      new DataView(header.buffer).setUint32(0, body.length + 8, false);
      header.set(ascii(type), 4);
      return concat(header, body);
    }),
  );
}

/** The M4A with the payloads of some sample-table boxes (moov/trak/mdia/minf/stbl/…) replaced; sizes recomputed. */
function m4aWithTables(bytes: Uint8Array, tables: Record<string, (old: Uint8Array) => Uint8Array>): Uint8Array {
  const tree = parseMp4(bytes);
  const stbl = ["moov", "trak", "mdia", "minf", "stbl"].reduce<Mp4Box[]>((boxes, type) => {
    const next = boxes.find((box) => box.type === type)?.payload;
    if (!Array.isArray(next)) throw new Error(`no ${type}`);
    return next;
  }, tree);
  for (const box of stbl) {
    const replace = tables[box.type];
    if (replace && box.payload instanceof Uint8Array) box.payload = replace(box.payload);
  }
  return serializeMp4(tree);
}

function u32beList(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((x, i) => new DataView(out.buffer).setUint32(i * 4, x >>> 0, false));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Ogg: pages, and their CRC so a patched page still passes a decoder's checksum test
// ---------------------------------------------------------------------------------------------------------

const OGG_CRC = Uint32Array.from({ length: 256 }, (_, i) => {
  let r = i << 24;
  for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  return r >>> 0;
});

interface OggPageRef {
  offset: number;
  bodyOffset: number;
  end: number;
}

function oggPages(bytes: Uint8Array): OggPageRef[] {
  const pages: OggPageRef[] = [];
  let at = 0;
  while (at + 27 <= bytes.length) {
    const segments = bytes[at + 26]!;
    let end = at + 27 + segments;
    for (let i = 0; i < segments; i++) end += bytes[at + 27 + i]!;
    pages.push({ offset: at, bodyOffset: at + 27 + segments, end });
    at = end;
  }
  return pages;
}

function fixOggCrc(bytes: Uint8Array, page: OggPageRef): void {
  bytes.fill(0, page.offset + 22, page.offset + 26);
  let crc = 0;
  for (let i = page.offset; i < page.end; i++) crc = ((crc << 8) ^ OGG_CRC[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
  new DataView(bytes.buffer).setUint32(page.offset + 22, crc, true);
}

/** Copy of an Ogg file with `edit` applied to one page (its header or body), CRC recomputed. */
function oggEditPage(bytes: Uint8Array, which: "first" | "last", edit: (out: Uint8Array, page: OggPageRef) => void): Uint8Array {
  const out = bytes.slice();
  const pages = oggPages(out);
  const page = which === "first" ? pages[0]! : pages[pages.length - 1]!;
  edit(out, page);
  fixOggCrc(out, page);
  return out;
}

function setOggGranule(out: Uint8Array, page: OggPageRef, granule: number): void {
  const v = new DataView(out.buffer);
  v.setUint32(page.offset + 6, granule % 2 ** 32, true);
  v.setUint32(page.offset + 10, Math.floor(granule / 2 ** 32), true);
}

// ---------------------------------------------------------------------------------------------------------
// Not audio at all
// ---------------------------------------------------------------------------------------------------------

/** A valid 1×1 grey PNG. */
const PNG = Uint8Array.from(
  Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010800000000376ef9240000000a49444154789c6360000000020001e221bc330000000049454e44ae426082", "hex"),
);

const PDF = ascii(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
);

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip holding one stored (uncompressed) file "a.txt". */
function zipFile(): Uint8Array {
  const name = ascii("a.txt");
  const content = ascii("hi\n");
  const crc = crc32(content);
  const local = new Uint8Array(30);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, 0x04034b50, true);
  lv.setUint16(4, 10, true);
  lv.setUint32(14, crc, true);
  lv.setUint32(18, content.length, true);
  lv.setUint32(22, content.length, true);
  lv.setUint16(26, name.length, true);
  const central = new Uint8Array(46);
  const cv = new DataView(central.buffer);
  cv.setUint32(0, 0x02014b50, true);
  cv.setUint16(4, 20, true);
  cv.setUint16(6, 10, true);
  cv.setUint32(16, crc, true);
  cv.setUint32(20, content.length, true);
  cv.setUint32(24, content.length, true);
  cv.setUint16(28, name.length, true);
  const centralOffset = local.length + name.length + content.length;
  const endRecord = new Uint8Array(22);
  const ev = new DataView(endRecord.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 1, true);
  ev.setUint16(10, 1, true);
  ev.setUint32(12, central.length + name.length, true);
  ev.setUint32(16, centralOffset, true);
  return concat(local, name, content, central, name, endRecord);
}

// ---------------------------------------------------------------------------------------------------------
// Multipart bodies, byte for byte (FormData would escape the very bytes these entries are about)
// ---------------------------------------------------------------------------------------------------------

interface Part {
  name: string;
  /** Raw bytes of the filename as they appear in Content-Disposition. */
  filename?: Uint8Array;
  contentType?: string;
  data: Uint8Array;
}

function multipartBody(parts: Part[], options: { boundary?: string; close?: boolean } = {}): Uint8Array {
  const boundary = options.boundary ?? BOUNDARY;
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    chunks.push(ascii(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`));
    if (part.filename) chunks.push(ascii('; filename="'), part.filename, ascii('"'));
    chunks.push(ascii("\r\n"));
    if (part.contentType) chunks.push(ascii(`Content-Type: ${part.contentType}\r\n`));
    chunks.push(ascii("\r\n"), part.data, ascii("\r\n"));
  }
  if (options.close !== false) chunks.push(ascii(`--${boundary}--\r\n`));
  return concat(...chunks);
}

// ---------------------------------------------------------------------------------------------------------
// Long silence, which needs a real encoder (the decompression bombs)
// ---------------------------------------------------------------------------------------------------------

function ffmpegSilence(work: string, name: string, seconds: number, sampleRate: number, args: string[]): Uint8Array {
  const out = join(work, name);
  execFileSync("ffmpeg", [
    "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", `anullsrc=r=${sampleRate}:cl=mono`, "-t", String(seconds),
    "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
    ...args, out,
  ]);
  return new Uint8Array(readFileSync(out));
}

// ---------------------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------------------

function build(work: string): { files: Map<string, Uint8Array>; inputs: BadInput[] } {
  const files = new Map<string, Uint8Array>();
  const inputs: BadInput[] = [];
  const file = (name: string, bytes: Uint8Array): string => {
    if (files.has(name)) throw new Error(`duplicate file ${name}`);
    files.set(name, bytes);
    return name;
  };
  const upload = (name: string, why: string, bytes: Uint8Array, status: number, code?: string, filename?: string): void => {
    inputs.push({ name, why, request: { kind: "upload", file: file(name, bytes), ...(filename && { filename }) }, expect: { status, ...(code && { code }) } });
  };
  const raw = (name: string, why: string, bytes: Uint8Array, contentType: string | null, status: number, code?: string): void => {
    inputs.push({ name, why, request: { kind: "raw", file: file(`${name}.bin`, bytes), contentType }, expect: { status, ...(code && { code }) } });
  };

  const speechWav = source("speech-16k-mono-s16.wav");
  const flac = source("speech.flac");
  const mp3 = source("speech.mp3");
  const opus = source("speech.opus.ogg");
  const vorbis = source("speech.vorbis.ogg");
  const m4a = source("speech.m4a");
  const webm = source("speech.webm");
  /** A small valid upload (0.5 s, 4 KB) for the entries whose point is the request around the audio. */
  const toneData = toneU8(0.5, 8_000);
  const tone = wav({ sampleRate: 8_000, bitsPerSample: 8, data: toneData });
  /** The same tone with some header fields changed. */
  const toneWav = (spec: Partial<WavSpec>): Uint8Array => wav({ sampleRate: 8_000, bitsPerSample: 8, data: toneData, ...spec });
  file("tone-8k-u8.wav", tone);

  // --- Empty and tiny -----------------------------------------------------------------------------------
  upload("empty.wav", "0 bytes", new Uint8Array(0), 422, "empty_audio");
  upload("one-byte.mp3", "a single 0xFF: the start of an MPEG sync word and nothing else", Uint8Array.of(0xff), 415, "unsupported_format");

  // --- Truncated headers of every accepted format ----------------------------------------------------------
  upload("wav-cut-riff-only.wav", "RIFF....WAVE and nothing more: no fmt chunk", speechWav.slice(0, 12), 422, "undecodable_audio");
  upload("wav-cut-in-fmt.wav", "cut inside the fmt chunk", speechWav.slice(0, 30), 422, "undecodable_audio");
  upload("wav-cut-before-data-size.wav", "cut inside the data chunk header", speechWav.slice(0, 40), 422, "undecodable_audio");
  upload("flac-cut-magic-only.flac", '"fLaC" and nothing more', flac.slice(0, 4), 422, "empty_audio");
  upload("flac-cut-in-streaminfo.flac", "cut inside STREAMINFO", flac.slice(0, 20), 422, "empty_audio");
  upload("flac-cut-after-metadata.flac", "all metadata blocks, no audio frame", flac.slice(0, indexOfFlacFirstFrame(flac)), 422, "empty_audio");
  upload("mp3-cut-id3-header.mp3", "an ID3v2 header whose tag runs past the end of the file", mp3.slice(0, 10), 422, "empty_audio");
  upload("mp3-cut-in-first-frame.mp3", "the ID3 tag and the first 4 bytes of the first frame", mp3.slice(0, 24), 422, "empty_audio");
  upload("ogg-opus-cut-page-header.ogg", "the first Ogg page header without its body: the codec cannot be known", opus.slice(0, 27), 415, "unsupported_format");
  upload("ogg-opus-cut-after-opushead.ogg", "OpusHead only: no tags, no audio", opus.slice(0, oggPages(opus)[0]!.end), 422, "empty_audio");
  upload("ogg-vorbis-cut-after-id-header.ogg", "the Vorbis identification header only", vorbis.slice(0, oggPages(vorbis)[0]!.end), 422, "empty_audio");
  upload("m4a-cut-in-ftyp.m4a", "cut inside the ftyp box", m4a.slice(0, 12), 422, "undecodable_audio");
  upload("m4a-cut-in-mdat.m4a", "ftyp and the start of mdat; the moov index (at the end) is gone", m4a.slice(0, 200), 422, "undecodable_audio");
  upload("webm-cut-ebml-magic.webm", "the 4-byte EBML magic only", webm.slice(0, 4), 422, "undecodable_audio");
  upload("webm-cut-in-header.webm", "cut inside the EBML header and segment info", webm.slice(0, 100), 422, "undecodable_audio");

  // --- Wrong magic, or not audio at all ---------------------------------------------------------------------
  const rifx = tone.slice();
  rifx.set(ascii("RIFX"), 0);
  upload("wrong-magic-rifx.wav", "big-endian RIFX, which no decoder here reads", rifx, 415, "unsupported_format");
  const avi = tone.slice();
  avi.set(ascii("AVI "), 8);
  upload("wrong-magic-riff-avi.wav", "a RIFF container of form AVI, not WAVE", avi, 415, "unsupported_format");
  const flaX = flac.slice();
  flaX.set(ascii("fLaX"), 0);
  upload("wrong-magic-flax.flac", "one letter off the FLAC magic", flaX, 415, "unsupported_format");
  upload(
    "ogg-theora-header.ogg",
    "an Ogg page whose first packet is a Theora (video) header",
    oggEditPage(opus, "first", (out, page) => out.set(concat(Uint8Array.of(0x80), ascii("theora")), page.bodyOffset)),
    415,
    "unsupported_format",
  );
  upload("wav-adpcm-encoding.wav", "format tag 2 (MS ADPCM): a WAV, but an encoding not decoded here", wav({ formatTag: 2, bitsPerSample: 4, blockAlign: 256, data: new Uint8Array(2048) }), 415, "unsupported_format");
  upload("text-named.wav", "plain text with a .wav name", utf8("This is not audio, just text with a .wav name.\n"), 415, "unsupported_format");
  upload("png-named.mp3", "a PNG image named .mp3", PNG, 415, "unsupported_format");
  upload("pdf-named.mp3", "a PDF named .mp3", PDF, 415, "unsupported_format");
  upload("zip-named.mp3", "a zip archive named .mp3", zipFile(), 415, "unsupported_format");
  upload("html-named.m4a", "an HTML page named .m4a", utf8("<!doctype html><html><body>403 Forbidden</body></html>\n"), 415, "unsupported_format");

  // --- Sizes that lie -----------------------------------------------------------------------------------
  upload("wav-data-size-4gb-no-samples.wav", "the data chunk claims 4 GB and holds nothing: must not allocate what it claims", wav({ data: new Uint8Array(0), dataSize: 0xfffffffe, riffSize: 0xfffffff0 }), 422, "empty_audio");
  upload("wav-data-size-4gb-few-samples.wav", "claims 4 GB, holds 100 samples (6 ms)", wav({ data: new Uint8Array(200), dataSize: 0xfffffffe }), 422, "audio_too_short");
  upload("wav-fmt-size-huge.wav", "the fmt chunk claims 4 GB, so the data chunk is never reached", toneWav({ fmtSize: 0xfffffff0 }), 422, "undecodable_audio");
  upload(
    "wav-list-chunk-size-huge.wav",
    "a LIST chunk before data claims 2 GB",
    toneWav({ between: riffChunk("LIST", 0x7ffffff0, ascii("INFOISFT")) }),
    422,
    "undecodable_audio",
  );
  upload(
    "control-wav-sizes-lie-real-audio.wav",
    "RIFF and data sizes claim 4 GB over 0.5 s of audio: sizes are clamped to the file, and the decoded 0.5 s is what counts (accepted)",
    toneWav({ riffSize: 0xfffffff0, dataSize: 0xfffffff0 }),
    202,
  );
  upload("flac-streaminfo-total-huge.flac", "STREAMINFO claims 2^36 − 1 samples", flacWithStreamInfo(flac, { totalSamples: 2 ** 36 - 1 }), 422, "audio_too_long");
  upload("flac-streaminfo-claims-10h.flac", "STREAMINFO claims 10 hours at 16 kHz over 1.6 s of frames", flacWithStreamInfo(flac, { totalSamples: 10 * 3600 * 16_000 }), 422, "audio_too_long");
  upload("flac-metadata-length-huge.flac", "the block after STREAMINFO claims 16 MB, past the end of the file: no frame is reachable", flacWithSecondBlockLength(flac, 0xffffff), 422, "empty_audio");
  upload("mp3-xing-frames-huge.mp3", "the Xing/Info header claims 2^32 − 1 frames", mp3WithXingFrames(mp3, 0xffffffff), 422, "audio_too_long");
  const mdhd = mp4BoxPayload(m4a, ["moov", "trak", "mdia", "mdhd"]);
  const stsd = mp4BoxPayload(m4a, ["moov", "trak", "mdia", "minf", "stbl", "stsd"]);
  upload("m4a-mdhd-duration-huge.m4a", "the track header claims 0xFFFFFFFE ticks (days)", patchU32be(m4a, mdhd + 16, 0xfffffffe), 422, "audio_too_long");
  const stsz = mp4BoxPayload(m4a, ["moov", "trak", "mdia", "minf", "stbl", "stsz"]);
  upload("m4a-stsz-count-huge.m4a", "the sample table claims 2^31 − 1 packets", patchU32be(m4a, stsz + 8, 0x7fffffff), 422, "audio_too_long");
  // The MP4 demuxer sizes arrays and loops by these counts: before the fix in decode.ts the first of these
  // killed the process (heap out of memory) and the second spun for minutes.
  upload("m4a-stsc-count-huge.m4a", "the sample-to-chunk table claims 2^31 − 1 entries in a few bytes", patchU32be(m4a, mp4BoxPayload(m4a, ["moov", "trak", "mdia", "minf", "stbl", "stsc"]) + 4, 0x7fffffff), 422, "undecodable_audio");
  upload("m4a-stts-count-huge.m4a", "the time-to-sample table claims 2^31 − 1 entries", patchU32be(m4a, mp4BoxPayload(m4a, ["moov", "trak", "mdia", "minf", "stbl", "stts"]) + 4, 0x7fffffff), 422, "undecodable_audio");
  upload("m4a-stco-count-huge.m4a", "the chunk-offset table claims 2^31 − 1 entries", patchU32be(m4a, mp4BoxPayload(m4a, ["moov", "trak", "mdia", "minf", "stbl", "stco"]) + 4, 0x7fffffff), 422, "undecodable_audio");
  upload(
    "m4a-stsz-count-huge-rate-hidden.m4a",
    "2^31 − 1 packets with the sample entry's rate set to 0, which hid the count from the duration check",
    patchU16be(patchU32be(m4a, stsz + 8, 0x7fffffff), stsd + 8 + 32, 0),
    422,
    "undecodable_audio",
  );
  const stscRuns = 12_000;
  upload(
    "m4a-stsc-quadratic.m4a",
    `${stscRuns} chunks of one packet and ${stscRuns} sample-to-chunk runs that never apply, rate hidden: the demuxer rescans every run at every chunk (seconds of CPU for 200 KB)`,
    m4aWithTables(patchU16be(m4a, stsd + 8 + 32, 0), {
      stsz: () => u32beList(0, 1, stscRuns),
      stts: () => u32beList(0, 1, stscRuns, 1024),
      stco: () => u32beList(0, stscRuns, ...Array<number>(stscRuns).fill(indexOf(m4a, "mdat") + 4)),
      stsc: () => u32beList(0, stscRuns, 1, 1, 1, ...Array.from({ length: stscRuns - 1 }, () => [0xffffffff, 1, 1]).flat()),
    }),
    422,
    "undecodable_audio",
  );
  upload(
    "ogg-opus-granule-claims-10h.ogg",
    "the last page's granule position claims 10 hours",
    oggEditPage(opus, "last", (out, page) => setOggGranule(out, page, 10 * 3600 * 48_000)),
    422,
    "audio_too_long",
  );

  // --- Zero-length audio --------------------------------------------------------------------------------
  upload("wav-header-only.wav", "a complete 44-byte header and no samples", speechWav.slice(0, 44), 422, "empty_audio");
  upload("wav-zero-data-chunk.wav", "a data chunk of size 0", wav({ data: new Uint8Array(0) }), 422, "empty_audio");
  upload("wav-less-than-one-frame.wav", "1 byte of data for 2-byte frames", wav({ data: Uint8Array.of(7), dataSize: 1 }), 422, "empty_audio");
  upload("wav-too-short-10ms.wav", "10 ms of audio, under the 0.1 s minimum", wav({ sampleRate: 8_000, bitsPerSample: 8, data: toneU8(0.01, 8_000) }), 422, "audio_too_short");

  // --- Too long, and decompression bombs (max duration is 5 s in the test config) -------------------------
  upload("wav-too-long-6s.wav", "6 s of 8 kHz 8-bit audio, over the 5 s maximum", wav({ sampleRate: 8_000, bitsPerSample: 8, data: toneU8(6, 8_000) }), 422, "audio_too_long");
  const flac60 = ffmpegSilence(work, "s60.flac", 60, 16_000, ["-c:a", "flac"]);
  upload("flac-too-long-60s.flac", "60 s of silence in a few KB; STREAMINFO tells the truth", flac60, 422, "audio_too_long");
  const flacHour = ffmpegSilence(work, "s3600.flac", 3600, 8_000, ["-c:a", "flac", "-frame_size", "65535"]);
  upload(
    "bomb-flac-1h-unknown-length.flac",
    "1 h of silence in a few KB with STREAMINFO's total set to 0 (unknown): only the frames tell",
    flacWithStreamInfo(flacHour, { totalSamples: 0 }),
    422,
    "audio_too_long",
  );
  upload(
    "bomb-flac-1h-metadata-length-huge.flac",
    "the same 1 h bomb, also hiding its frames behind a metadata block whose length runs past the end",
    flacWithSecondBlockLength(flacWithStreamInfo(flacHour, { totalSamples: 0 }), 0xffffff),
    422,
    "empty_audio",
  );
  upload(
    "bomb-flac-1h-no-last-metadata-flag.flac",
    "the same 1 h bomb with no metadata block marked last, so the frames read as more metadata",
    flacWithoutLastFlag(flacWithStreamInfo(flacHour, { totalSamples: 0 })),
    422,
    "empty_audio",
  );
  const opusLong = ffmpegSilence(work, "s120.ogg", 120, 48_000, ["-c:a", "libopus", "-b:a", "6k", "-frame_duration", "60", "-f", "ogg"]);
  upload(
    "bomb-opus-2min-granule-lies.ogg",
    "2 min of Opus silence whose last granule position claims 2 s: only decoding finds out",
    oggEditPage(opusLong, "last", (out, page) => setOggGranule(out, page, 2 * 48_000 + 312)),
    422,
    "audio_too_long",
  );
  upload("bomb-webm-opus-60s.webm", "60 s of Opus silence in WebM (no duration checked before decoding)", ffmpegSilence(work, "s60.webm", 60, 48_000, ["-c:a", "libopus", "-b:a", "6k", "-frame_duration", "60", "-f", "webm"]), 422, "audio_too_long");
  upload("mp3-too-long-10s-cbr.mp3", "10 s of 8 kbit/s MP3 silence with no Xing header (duration from the bitrate)", ffmpegSilence(work, "s10.mp3", 10, 8_000, ["-c:a", "libmp3lame", "-b:a", "8k", "-write_xing", "0"]), 422, "audio_too_long");

  // --- Sample rates -------------------------------------------------------------------------------------
  for (const [label, rate] of [["1hz", 1], ["4ghz", 4_000_000_000], ["7999hz", 7_999], ["384khz", 384_000]] as const) {
    upload(`wav-rate-${label}.wav`, `a WAV header declaring ${rate} Hz`, toneWav({ sampleRate: rate }), 422, "unsupported_sample_rate");
  }
  upload("wav-rate-0hz.wav", "a WAV header declaring 0 Hz (no duration can be computed)", toneWav({ sampleRate: 0 }), 422, "undecodable_audio");
  upload("flac-rate-1hz.flac", "STREAMINFO declares 1 Hz", flacWithStreamInfo(flac, { sampleRate: 1 }), 422, "unsupported_sample_rate");
  upload(
    "ogg-vorbis-rate-1hz.ogg",
    "the Vorbis identification header declares 1 Hz",
    oggEditPage(vorbis, "first", (out, page) => new DataView(out.buffer).setUint32(page.bodyOffset + 12, 1, true)),
    422,
    "unsupported_sample_rate",
  );
  upload("m4a-stsd-rate-1hz.m4a", "the sample entry declares 1 Hz", patchU16be(m4a, stsd + 8 + 32, 1), 422, "unsupported_sample_rate");

  // --- Channels (up to 8 accepted) ------------------------------------------------------------------------
  upload("control-wav-8-channels.wav", "8 channels (7.1): the most accepted, so this is accepted", wav({ channels: 8, sampleRate: 8_000, bitsPerSample: 8, data: toneU8(0.5, 8_000, 8) }), 202);
  upload("wav-9-channels.wav", "9 channels: one more than accepted", wav({ channels: 9, sampleRate: 8_000, bitsPerSample: 8, data: toneU8(0.5, 8_000, 9) }), 422, "too_many_channels");
  upload("wav-65535-channels.wav", "65535 channels with a block align that fits (1 byte per sample)", toneWav({ channels: 65_535, data: new Uint8Array(64) }), 422, "too_many_channels");
  upload("wav-0-channels.wav", "0 channels", toneWav({ channels: 0, blockAlign: 1 }), 422, "undecodable_audio");
  upload("ogg-opus-255-channels.ogg", "OpusHead claims 255 channels", oggEditPage(opus, "first", (out, page) => (out[page.bodyOffset + 9] = 255)), 422, "too_many_channels");

  // --- Sample values --------------------------------------------------------------------------------------
  upload("wav-float-nan.wav", "a float WAV holding a NaN sample", floatWavWith(Number.NaN), 422, "invalid_samples");
  upload("wav-float-inf.wav", "a float WAV holding +Infinity", floatWavWith(Number.POSITIVE_INFINITY), 422, "invalid_samples");
  upload("wav-float-neg-inf.wav", "a float WAV holding −Infinity", floatWavWith(Number.NEGATIVE_INFINITY), 422, "invalid_samples");

  // --- Malformed multipart ------------------------------------------------------------------------------
  const tonePart: Part = { name: "file", filename: ascii("tone.wav"), contentType: "audio/wav", data: tone };
  const good = multipartBody([tonePart, { name: "language", data: ascii("en") }]);
  raw("multipart-wrong-boundary", "the body's boundary is not the one Content-Type names", multipartBody([tonePart], { boundary: "some-other-boundary" }), MULTIPART_TYPE, 400, "invalid_request");
  raw("multipart-no-boundary-param", "multipart/form-data without a boundary parameter", good, "multipart/form-data", 400, "invalid_request");
  raw("multipart-truncated", "cut in the middle of the file part", good.slice(0, 200), MULTIPART_TYPE, 400, "invalid_request");
  raw("multipart-no-closing-boundary", "every part complete but the closing --boundary-- missing", multipartBody([tonePart], { close: false }), MULTIPART_TYPE, 400, "invalid_request");
  raw("multipart-empty-body", "multipart content type, empty body", new Uint8Array(0), MULTIPART_TYPE, 400, "invalid_request");
  raw("multipart-garbage", "random-looking bytes under a multipart content type", ascii("\x00\x01\x02--not a multipart body at all\r\n\r\n"), MULTIPART_TYPE, 400, "invalid_request");
  raw("multipart-without-file", "a language field and no file", multipartBody([{ name: "language", data: ascii("en") }]), MULTIPART_TYPE, 400, "missing_file");
  raw("multipart-file-as-text", "`file` sent as a text field (no filename), not a file", multipartBody([{ name: "file", data: tone }]), MULTIPART_TYPE, 400, "missing_file");
  raw("multipart-two-files", "two `file` parts", multipartBody([tonePart, tonePart]), MULTIPART_TYPE, 400, "missing_file");
  raw("multipart-language-invalid-utf8", "the language field is the bytes FF FE 65 6E (not UTF-8)", multipartBody([tonePart, { name: "language", data: Uint8Array.of(0xff, 0xfe, 0x65, 0x6e) }]), MULTIPART_TYPE, 400, "invalid_language");
  raw(
    "multipart-webhook-url-invalid-utf8",
    "webhook_url with invalid UTF-8 in its host name",
    multipartBody([tonePart, { name: "webhook_url", data: concat(ascii("https://ex"), Uint8Array.of(0xc3, 0x28, 0xff), ascii("ample.com/hook")) }]),
    MULTIPART_TYPE,
    400,
    "invalid_webhook_url",
  );
  raw("multipart-language-twice", "two language fields", multipartBody([tonePart, { name: "language", data: ascii("en") }, { name: "language", data: ascii("fr") }]), MULTIPART_TYPE, 400, "invalid_request");
  raw("urlencoded-form", "application/x-www-form-urlencoded instead of multipart", ascii("file=hello&language=en"), "application/x-www-form-urlencoded", 415, "unsupported_media_type");
  raw("text-plain-body", "a text/plain body", ascii("https://example.com/a.wav"), "text/plain", 415, "unsupported_media_type");
  raw("no-content-type", "audio bytes with no Content-Type at all", tone, null, 415, "unsupported_media_type");

  raw("multipart-language-huge", "a 64 KB language field", multipartBody([tonePart, { name: "language", data: ascii("e".repeat(65_536)) }]), MULTIPART_TYPE, 400, "invalid_language");
  raw("multipart-many-fields", "2,000 empty fields and no file", multipartBody(Array.from({ length: 2_000 }, (_, i) => ({ name: `f${i}`, data: new Uint8Array(0) }))), MULTIPART_TYPE, 400, "missing_file");

  // --- Headers around an upload -------------------------------------------------------------------------
  inputs.push({
    name: "idempotency-key-too-long",
    why: "a 300-character Idempotency-Key (at most 255)",
    request: { kind: "upload", file: "tone-8k-u8.wav", headers: { "idempotency-key": "k".repeat(300) } },
    expect: { status: 400, code: "invalid_request" },
  });
  inputs.push({
    name: "idempotency-key-on-broken-upload",
    why: "an Idempotency-Key on an upload that does not decode: the key is released, nothing kept",
    request: { kind: "upload", file: "wav-cut-in-fmt.wav", headers: { "idempotency-key": "bad-inputs-broken-upload" } },
    expect: { status: 422, code: "undecodable_audio" },
  });
  inputs.push({
    name: "control-declared-type-lies",
    why: "a valid WAV sent as picture.png with Content-Type image/png: the bytes decide (accepted)",
    request: { kind: "upload", file: "tone-8k-u8.wav", filename: "picture.png", contentType: "image/png" },
    expect: { status: 202 },
  });

  // --- Filenames: accepted, cleaned, never a storage path ---------------------------------------------------
  const named = (name: string, why: string, filename: Uint8Array): void =>
    raw(name, `${why}; the upload is valid, so it is accepted with a cleaned display name`, multipartBody([{ ...tonePart, filename }]), MULTIPART_TYPE, 202);
  named("control-filename-path-traversal", "filename ../../etc/passwd.wav", ascii("../../etc/passwd.wav"));
  named("control-filename-absolute", "filename /etc/passwd", ascii("/etc/passwd"));
  named("control-filename-windows-path", "filename C:\\Windows\\System32\\evil.wav", ascii("C:\\Windows\\System32\\evil.wav"));
  named("control-filename-nul", "a NUL byte inside the filename", ascii("evil\x00.wav"));
  named("control-filename-control-chars", "control characters and an escape sequence in the filename", ascii("\x1b[31mred\x07\x7f.wav"));
  named("control-filename-dotdot-only", "filename ..", ascii(".."));
  named("control-filename-very-long", "a 10,000-character filename", ascii(`${"a".repeat(10_000)}.wav`));
  named("control-filename-invalid-utf8", "a filename that is not UTF-8", concat(ascii("bad"), Uint8Array.of(0xff, 0xc0, 0x80), ascii(".wav")));

  // --- JSON bodies ------------------------------------------------------------------------------------
  const json = (name: string, why: string, body: unknown, status: number, code: string, paddingBytes?: number): void => {
    inputs.push({ name, why, request: { kind: "json", body, ...(paddingBytes && { paddingBytes }) }, expect: { status, code } });
  };
  raw("json-malformed", "JSON cut short", ascii('{"audio_url": "https://example.com/a.wav"'), "application/json", 400, "invalid_request");
  raw("json-empty-body", "application/json with an empty body", new Uint8Array(0), "application/json", 400, "invalid_request");
  raw("json-invalid-utf8", "a JSON string holding bytes that are not UTF-8", concat(ascii('{"audio_url": "https://'), Uint8Array.of(0xff, 0xfe), ascii('.example/a.wav"}')), "application/json", 400, "invalid_audio_url");
  raw("json-deeply-nested", "30,000 nested arrays next to a valid-looking body (under the JSON size cap)", ascii(`{"x":${"[".repeat(30_000)}${"]".repeat(30_000)}}`), "application/json", 400, "invalid_request");
  json("json-array", "a JSON array, not an object", [{ audio_url: "https://example.com/a.wav" }], 400, "invalid_request");
  json("json-string", "a JSON string, not an object", "https://example.com/a.wav", 400, "invalid_request");
  json("json-null", "JSON null", null, 400, "invalid_request");
  json("json-number", "a JSON number", 42, 400, "invalid_request");
  json("json-empty-object", "an object without audio_url", {}, 400, "invalid_request");
  json("json-audio-url-number", "audio_url is a number", { audio_url: 42 }, 400, "invalid_request");
  json("json-audio-url-object", "audio_url is an object", { audio_url: { href: "https://example.com/a.wav" } }, 400, "invalid_request");
  json("json-language-nul", "a NUL character in language", { audio_url: "https://example.com/a.wav", language: "en\u0000" }, 400, "invalid_language");
  json("json-language-lone-surrogate", "a lone UTF-16 surrogate in language", { audio_url: "https://example.com/a.wav", language: "\ud800" }, 400, "invalid_language");
  json("json-webhook-url-private", "webhook_url on a loopback address", { audio_url: "https://example.com/a.wav", webhook_url: "http://127.0.0.1:8080/hook" }, 400, "invalid_webhook_url");
  json("json-webhook-url-too-long", "a 3,000-character webhook_url", { audio_url: "https://example.com/a.wav", webhook_url: `https://example.com/${"a".repeat(3000)}` }, 400, "invalid_webhook_url");
  json("json-oversized", "200 KB of JSON, over the 64 KB cap for JSON bodies", { audio_url: "https://example.com/a.wav" }, 413, "payload_too_large", 200_000);

  // --- audio_url: refused before any connection --------------------------------------------------------
  const url = (name: string, why: string, target: string, status = 400, code = "invalid_audio_url"): void => {
    inputs.push({ name, why, request: { kind: "audio_url", url: target }, expect: { status, code } });
  };
  url("url-file-scheme", "file:// reads the server's own disk", "file:///etc/passwd");
  url("url-ftp-scheme", "ftp:// is not http(s)", "ftp://example.com/a.wav");
  url("url-data-scheme", "data: URLs carry their own bytes", "data:audio/wav;base64,UklGRg==");
  url("url-javascript-scheme", "javascript: is no transport at all", "javascript:alert(1)");
  url("url-not-a-url", "not a URL", "not a url at all");
  url("url-loopback-v4", "http://127.0.0.1", "http://127.0.0.1/a.wav");
  url("url-loopback-decimal", "127.0.0.1 written as one decimal number", "http://2130706433/a.wav");
  url("url-loopback-hex-octets", "127.0.0.1 written in hex", "http://0x7f.0.0.1/a.wav");
  url("url-unspecified", "0.0.0.0 reaches the local host", "http://0.0.0.0/a.wav");
  url("url-cloud-metadata", "the cloud metadata service", "http://169.254.169.254/latest/meta-data/");
  url("url-loopback-v6", "http://[::1]", "http://[::1]/a.wav");
  url("url-v4-mapped-v6", "127.0.0.1 as an IPv4-mapped IPv6 address", "http://[::ffff:127.0.0.1]/a.wav");
  url("url-private-10", "a 10/8 address", "http://10.0.0.1/a.wav");
  url("url-localhost", "http://localhost", "http://localhost/a.wav");
  url("url-localhost-subdomain", "a *.localhost name", "http://api.localhost/a.wav");
  url("url-credentials", "a URL with user:password", "http://user:secret@example.com/a.wav");

  // --- audio_url: a local test server (allow-listed) that misbehaves ---------------------------------------
  const served = (name: string, why: string, serverRoute: AudioUrlServerRoute, status: number, code?: string): void => {
    inputs.push({ name, why, request: { kind: "audio_url", serverRoute }, expect: { status, ...(code && { code }) } });
  };
  served("url-big-non-audio", "10 MB of text with its Content-Length: refused before reading it", "big-non-audio", 413, "file_too_large");
  served("url-big-non-audio-chunked", "10 MB of text, chunked (no Content-Length): cut off while streaming", "big-non-audio-chunked", 413, "file_too_large");
  served("url-endless-non-audio", "Content-Length: 10 GB and a body that never stops: refused, and the connection closed", "endless-non-audio", 413, "file_too_large");
  served("url-endless-404", "HTTP 404 with a body that never stops", "endless-404", 422, "audio_url_unreachable");
  served("url-not-audio", "a small HTML page", "not-audio.html", 415, "unsupported_format");
  served("url-redirect-to-loopback", "a redirect to 127.0.0.1 (not allow-listed)", "redirect-to-loopback", 400, "invalid_audio_url");
  served("url-redirect-to-metadata", "a redirect to 169.254.169.254", "redirect-to-metadata", 400, "invalid_audio_url");
  served("url-redirect-invalid-location", "a redirect whose Location is not a URL (an unclosed IPv6 bracket)", "redirect-invalid-location", 400, "invalid_audio_url");
  served("url-redirect-loop", "a redirect to itself, forever", "redirect-loop", 422, "audio_url_unreachable");
  served("url-slow-headers", "no response headers before the timeout", "slow-headers", 422, "audio_url_unreachable");
  served("url-slow-body", "headers at once, then one byte a second past the timeout", "slow-body", 422, "audio_url_unreachable");
  served("url-missing", "HTTP 404", "missing", 422, "audio_url_unreachable");
  served("control-url-speech", "a real WAV from the allow-listed server (accepted)", "speech.wav", 202);

  // --- Sizes over the caps, generated at test time ---------------------------------------------------------
  inputs.push({
    name: "oversized-file",
    why: "a WAV padded just past maxUploadBytes (the request still fits the body limit): refused by the upload check",
    request: { kind: "upload", file: "tone-8k-u8.wav", filename: "big.wav", padToBytes: LIMITS.maxUploadBytes + 1_000 },
    expect: { status: 413, code: "file_too_large" },
  });
  inputs.push({
    name: "oversized-request",
    why: "a 3 MB upload: refused by the body limit while streaming",
    request: { kind: "upload", file: "tone-8k-u8.wav", filename: "huge.wav", padToBytes: 3 * LIMITS.maxUploadBytes },
    expect: { status: 413, code: "file_too_large" },
  });
  return { files, inputs };
}

/** Offset of the first FLAC frame: past every metadata block. */
function indexOfFlacFirstFrame(bytes: Uint8Array): number {
  let at = 4;
  for (;;) {
    const last = bytes[at]! & 0x80;
    at += 4 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    if (last) return at;
  }
}

function main(): void {
  const work = mkdtempSync(join(tmpdir(), "bad-inputs-"));
  try {
    const { files, inputs } = build(work);
    const names = new Set<string>();
    for (const input of inputs) {
      if (names.has(input.name)) throw new Error(`duplicate input ${input.name}`);
      names.add(input.name);
    }
    rmSync(FILES, { recursive: true, force: true });
    mkdirSync(FILES, { recursive: true });
    for (const [name, bytes] of files) writeFileSync(join(FILES, name), bytes);
    const manifest: BadInputManifest = { limits: LIMITS, inputs };
    writeFileSync(join(OUT, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    const total = readdirSync(FILES).reduce((n, name) => n + readFileSync(join(FILES, name)).length, 0);
    console.log(`${inputs.length} inputs, ${files.size} files, ${(total / 1024).toFixed(0)} KB in ${FILES}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
