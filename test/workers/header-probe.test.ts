/**
 * The Workers audio check (edge/workers/header-probe.ts) is pure TypeScript: it runs here, in the Node suite,
 * against the same corpus the Node edge is held to (test/reliability/bad-inputs.test.ts). It must agree with
 * the full decode wherever headers decide, and it may only let through what needs the body to refuse; those
 * files are listed, and the GPU worker fails their jobs when it decodes them.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validateAudio } from "../../edge/upload/validate.js";
import { headerAudioProbe, probeHeaders } from "../../edge/workers/header-probe.js";
import { ApiError } from "../../shared/api-error.js";
import { parseServiceConfig } from "../../shared/config.js";
import { manifestSchema } from "../fixtures/bad-inputs/manifest.js";

const corpus = new URL("../fixtures/bad-inputs/", import.meta.url);
const manifest = manifestSchema.parse(JSON.parse(readFileSync(new URL("manifest.json", corpus), "utf8")));
const limits = parseServiceConfig({ limits: manifest.limits }).limits;
const read = (url: URL): Uint8Array => new Uint8Array(readFileSync(url));

/** Refusals the headers decide: the header check must give the Node edge's answer for these. */
const DECIDED_BY_HEADERS = [
  "empty.wav",
  "one-byte.mp3",
  "text-named.wav",
  "png-named.mp3",
  "wav-adpcm-encoding.wav",
  "wrong-magic-riff-avi.wav",
  "ogg-theora-header.ogg",
  "wav-cut-riff-only.wav",
  "wav-cut-in-fmt.wav",
  "wav-header-only.wav",
  "wav-zero-data-chunk.wav",
  "wav-too-short-10ms.wav",
  "wav-too-long-6s.wav",
  "wav-rate-1hz.wav",
  "wav-rate-384khz.wav",
  "wav-9-channels.wav",
  "flac-cut-in-streaminfo.flac",
  "flac-streaminfo-claims-10h.flac",
  "flac-rate-1hz.flac",
  "mp3-xing-frames-huge.mp3",
  "mp3-too-long-10s-cbr.mp3",
  "ogg-opus-255-channels.ogg",
  "ogg-opus-granule-claims-10h.ogg",
  "ogg-opus-cut-after-opushead.ogg",
  "m4a-mdhd-duration-huge.m4a",
  "m4a-stsz-count-huge.m4a",
  "m4a-cut-in-mdat.m4a",
  "webm-cut-in-header.webm",
];

/** Refused by the Node edge's decode, passed on from headers that look fine (the GPU worker's decode fails them). */
const NEEDS_THE_BODY = [
  "flac-cut-after-metadata.flac", // STREAMINFO declares 1.6 s; no frames follow
  "bomb-flac-1h-unknown-length.flac", // STREAMINFO leaves the length open (streamed FLAC)
  "bomb-opus-2min-granule-lies.ogg", // the last page's granule says 2 s; the pages hold 2 min
  "bomb-webm-opus-60s.webm", // WebM declares no duration
  "wav-float-nan.wav", // NaN samples
];

async function headerVerdict(bytes: Uint8Array): Promise<number> {
  try {
    await validateAudio(bytes, headerAudioProbe(limits), limits);
    return 202;
  } catch (error) {
    if (error instanceof ApiError) return error.status;
    throw error;
  }
}

describe("header-only audio check (Workers)", () => {
  const uploads = manifest.inputs.flatMap((input) => (input.request.kind === "upload" ? [{ ...input, request: input.request }] : []));

  it.each(uploads)("never answers $name otherwise than the Node edge, but may pass it on ($expect.status)", async ({ request, expect: wanted }) => {
    const file = read(new URL(`files/${request.file}`, corpus));
    const bytes = request.padToBytes ? new Uint8Array(request.padToBytes) : file;
    if (request.padToBytes) bytes.set(file);
    expect([wanted.status, 202]).toContain(await headerVerdict(bytes));
  });

  it.each(DECIDED_BY_HEADERS)("refuses %s from its headers, as the Node edge does", async (name) => {
    const wanted = uploads.find((input) => input.request.file === name && !input.request.padToBytes);
    expect(wanted?.expect.status).toBeGreaterThanOrEqual(400);
    expect(await headerVerdict(read(new URL(`files/${name}`, corpus)))).toBe(wanted?.expect.status);
  });

  it.each(NEEDS_THE_BODY)("passes %s on to the GPU worker's decode", async (name) => {
    expect(await headerVerdict(read(new URL(`files/${name}`, corpus)))).toBe(202);
  });

  it("refuses a file over the size limit before looking at it", async () => {
    expect(await headerVerdict(new Uint8Array(limits.maxUploadBytes + 1))).toBe(413);
  });

  it("reads the declared duration of every format that declares one", async () => {
    const formats = new URL("../fixtures/audio/formats/", import.meta.url);
    for (const name of ["speech-16k-mono-s16.wav", "speech.flac", "speech.mp3", "speech.opus.ogg", "speech.vorbis.ogg", "speech.m4a"]) {
      const probed = await headerAudioProbe(limits)(read(new URL(name, formats)));
      expect(probed.durationSeconds, name).toBeGreaterThan(1.6);
      expect(probed.durationSeconds, name).toBeLessThan(1.7);
    }
    const webm = await headerAudioProbe(limits)(read(new URL("speech.webm", formats)));
    expect(webm).toMatchObject({ format: "webm", contentType: "audio/webm" }); // length estimated from the size
  });

  it("finds an Ogg file's length from its first and last bytes, as read from R2 with range requests", () => {
    const ogg = read(new URL("../fixtures/audio/formats/speech.opus.ogg", import.meta.url));
    const whole = probeHeaders({ head: ogg, totalBytes: ogg.length }, limits);
    // The middle is never read; the tail holds the last complete page (R2 reads two maximal pages' worth).
    const split = probeHeaders({ head: ogg.subarray(0, 1024), tail: ogg.subarray(2048), totalBytes: ogg.length }, limits);
    expect(split.durationSeconds).toBe(whole.durationSeconds);
  });

  it("never refuses a file as too short on an estimated length", () => {
    const webmHead = read(new URL("../fixtures/audio/formats/speech.webm", import.meta.url)).subarray(0, 300);
    expect(probeHeaders({ head: webmHead, totalBytes: webmHead.length + 10 }, limits).durationSeconds).toBeGreaterThanOrEqual(limits.minDurationSeconds);
  });
});
