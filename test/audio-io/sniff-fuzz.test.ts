import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AudioError, checkAudioLimits, probeAudioHeader, sniffAudioFormat } from "../../shared/audio-sniff.js";

const dir = new URL("../fixtures/audio/formats/", import.meta.url);
const fixtures = readdirSync(dir)
  .sort()
  .map((name) => new Uint8Array(readFileSync(new URL(name, dir))));

/** Sniffing never throws; probing throws only AudioError; neither takes long on any input. */
function checkTotal(bytes: Uint8Array, totalBytes?: number): void {
  const started = performance.now();
  sniffAudioFormat(bytes);
  try {
    const info = probeAudioHeader(bytes, totalBytes === undefined ? {} : { totalBytes });
    for (const value of [info.sampleRate, info.channels, info.durationSeconds]) {
      if (value !== undefined) expect(Number.isFinite(value) && value >= 0).toBe(true);
    }
    try {
      checkAudioLimits(info);
    } catch (error) {
      expect(error).toBeInstanceOf(AudioError);
    }
  } catch (error) {
    if (!(error instanceof AudioError)) throw error;
    expect(error.code).toMatch(/^(unsupported_format|undecodable_audio)$/);
  }
  expect(performance.now() - started).toBeLessThan(250);
}

/** A fixture with some bytes overwritten, inserted or cut: the damage uploads actually carry. */
const mutatedFixture = fc
  .record({
    file: fc.integer({ min: 0, max: fixtures.length - 1 }),
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        kind: fc.constantFrom("set", "insert", "truncate", "size"),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      }),
      { minLength: 1, maxLength: 6 },
    ),
  })
  .map(({ file, edits }) => {
    let bytes = fixtures[file]!.slice(0, 20_000); // the headers live here; keeps each run fast
    for (const { at, kind, bytes: patch } of edits) {
      const pos = at % (bytes.length + 1);
      if (kind === "truncate") bytes = bytes.slice(0, pos);
      else if (kind === "insert") bytes = Uint8Array.from([...bytes.subarray(0, pos), ...patch, ...bytes.subarray(pos)]);
      else if (kind === "size") bytes.set([0xff, 0xff, 0xff, 0xff].slice(0, bytes.length - pos), pos); // huge sizes
      else bytes.set(patch.subarray(0, bytes.length - pos), pos);
    }
    return bytes;
  });

/** Random bytes behind each real magic, so every parser gets past its first check. */
const magic = fc.constantFrom(
  "RIFF\x00\x00\x00\x00WAVEfmt ",
  "RIFF\xff\xff\xff\xffWAVEdata",
  "fLaC\x00\x00\x00\x22",
  "OggS\x00\x02",
  "\x00\x00\x00\x20ftypM4A ",
  "\x00\x00\x00\x08moov",
  "\x1a\x45\xdf\xa3",
  "ID3\x04\x00\x00",
  "\xff\xfb\x90\x64",
);
const magicThenRandom = fc
  .tuple(magic, fc.uint8Array({ maxLength: 2048 }))
  .map(([head, tail]) => Uint8Array.from([...Array.from(head, (c) => c.charCodeAt(0)), ...tail]));

describe("sniffing and probing never throw anything but AudioError, and never hang", () => {
  it("on random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => checkTotal(bytes)), { numRuns: 2000 });
  });

  it("on random bytes behind every magic number", () => {
    fc.assert(fc.property(magicThenRandom, (bytes) => checkTotal(bytes)), { numRuns: 3000 });
  });

  it("on mutated fixtures, whole or as an upload's first chunk", () => {
    fc.assert(
      fc.property(mutatedFixture, fc.option(fc.nat({ max: 2 ** 40 })), (bytes, total) => checkTotal(bytes, total ?? undefined)),
      { numRuns: 1500 },
    );
  });

  it("on every prefix length of every fixture's first 600 bytes", () => {
    for (const fixture of fixtures) for (let n = 0; n <= Math.min(600, fixture.length); n++) checkTotal(fixture.subarray(0, n));
  });

  it("on worst cases for the backward Ogg page search and the MP4 box walk", () => {
    const oggs = new Uint8Array(200_000);
    for (let i = 0; i < oggs.length; i += 4) oggs.set([0x4f, 0x67, 0x67, 0x53], i); // "OggS" everywhere
    checkTotal(oggs);
    const boxes = new Uint8Array(200_000);
    boxes.set([0, 0, 0, 16, 0x66, 0x74, 0x79, 0x70], 0); // ftyp
    for (let i = 16; i + 8 <= boxes.length; i += 8) boxes.set([0, 0, 0, 8, 0x6d, 0x6f, 0x6f, 0x76], i); // empty moov boxes
    checkTotal(boxes);
  });
});
