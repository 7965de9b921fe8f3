import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeAudio, type DecodedAudio } from "../../gpu-worker/audio/decode.js";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/audio/formats/${name}`, import.meta.url)));

/** The fixtures' source: espeak-ng's 22.05 kHz output, 35,655 samples (tools/make_audio_fixtures.sh). */
const SOURCE_SECONDS = 35_655 / 22_050;

const FORMATS = [
  { file: "speech-16k-mono-s16.wav", format: "wav", codec: "pcm", rate: 16_000, channels: 1 },
  { file: "speech-44k1-stereo-s16.wav", format: "wav", codec: "pcm", rate: 44_100, channels: 2 },
  { file: "speech-16k-mono-f32.wav", format: "wav", codec: "float", rate: 16_000, channels: 1 },
  { file: "speech-8k-mono-s24.wav", format: "wav", codec: "pcm", rate: 8_000, channels: 1 },
  { file: "speech.flac", format: "flac", codec: "flac", rate: 16_000, channels: 1 },
  { file: "speech.mp3", format: "mp3", codec: "mp3", rate: 22_050, channels: 1 },
  { file: "speech.opus.ogg", format: "ogg", codec: "opus", rate: 48_000, channels: 1 },
  { file: "speech.vorbis.ogg", format: "ogg", codec: "vorbis", rate: 22_050, channels: 1 },
  { file: "speech.m4a", format: "m4a", codec: "aac", rate: 44_100, channels: 1 },
  { file: "speech.webm", format: "webm", codec: "opus", rate: 48_000, channels: 1 },
] as const;

const rms = (x: Float32Array): number => Math.sqrt(x.reduce((sum, v) => sum + v * v, 0) / x.length);

/** log energy per 20 ms frame, floored at −60 dB so codec noise in the pauses does not count. */
function energyEnvelope(pcm: Float32Array): number[] {
  const frame = 320;
  const envelope: number[] = [];
  for (let at = 0; at + frame <= pcm.length; at += frame) {
    let energy = 0;
    for (let i = at; i < at + frame; i++) energy += pcm[i]! * pcm[i]!;
    envelope.push(Math.log10(energy / frame + 1e-6));
  }
  return envelope;
}

function correlation(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  const mean = (x: number[]): number => x.slice(0, n).reduce((s, v) => s + v, 0) / n;
  const ma = mean(a);
  const mb = mean(b);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe("decodeAudio on every fixture format", () => {
  const decoded = new Map<string, DecodedAudio>();
  beforeAll(async () => {
    for (const { file } of FORMATS) decoded.set(file, await decodeAudio(fixture(file)));
  });

  it.each(FORMATS)("$file → 16 kHz mono, the source's duration, peak ≤ 1, speech", ({ file, format, codec, rate, channels }) => {
    const audio = decoded.get(file)!;
    expect(audio).toMatchObject({ sampleRate: 16_000, sourceFormat: format, sourceCodec: codec, sourceSampleRate: rate, sourceChannels: channels });
    expect(audio.pcm).toBeInstanceOf(Float32Array);
    expect(Math.abs(audio.durationSeconds - SOURCE_SECONDS)).toBeLessThan(0.003);
    expect(Math.abs(audio.pcm.length - audio.durationSeconds * 16_000)).toBeLessThanOrEqual(1);
    expect(audio.pcm.every((v) => Number.isFinite(v) && Math.abs(v) <= 1)).toBe(true);
    expect(rms(audio.pcm)).toBeGreaterThan(0.05); // espeak speech is ≈ 0.1 rms; silence would be ≈ 0
  });

  it.each(FORMATS)("$file sounds like the 16 kHz WAV (energy envelopes correlate)", ({ file }) => {
    const reference = energyEnvelope(decoded.get("speech-16k-mono-s16.wav")!.pcm);
    const envelope = energyEnvelope(decoded.get(file)!.pcm);
    // 0.95 and up for all but the 8 kHz file, which has lost everything above 4 kHz (its "s" sounds).
    expect(correlation(reference, envelope)).toBeGreaterThan(0.93);
  });

  it("the envelope test can fail: the same speech 0.3 s late does not correlate", () => {
    const reference = energyEnvelope(decoded.get("speech-16k-mono-s16.wav")!.pcm);
    expect(correlation(reference, reference.slice(15))).toBeLessThan(0.8);
  });

  it("passes 16 kHz s16 samples through untouched (value / 32768)", () => {
    const bytes = fixture("speech-16k-mono-s16.wav");
    const samples = new Int16Array(bytes.slice(44).buffer);
    const { pcm } = decoded.get("speech-16k-mono-s16.wav")!;
    expect(pcm.length).toBe(samples.length);
    for (const i of [0, 1000, 9999, samples.length - 1]) expect(pcm[i]).toBeCloseTo(samples[i]! / (samples[i]! < 0 ? 32768 : 32767), 6);
  });

  it("the float WAV decodes to the same samples as the s16 one (both come from one source)", () => {
    const a = decoded.get("speech-16k-mono-s16.wav")!.pcm;
    const b = decoded.get("speech-16k-mono-f32.wav")!.pcm;
    expect(a.length).toBe(b.length);
    expect(a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i]!)), 0)).toBeLessThan(1e-4);
  });

  it("averages stereo channels: right = ½ left gives ¾ of the mono level", () => {
    const stereo = rms(decoded.get("speech-44k1-stereo-s16.wav")!.pcm);
    const mono = rms(decoded.get("speech-16k-mono-s16.wav")!.pcm);
    expect(stereo / mono).toBeCloseTo(0.75, 2);
  });

  it("decodes a truncated WAV to the part that is there", async () => {
    const audio = await decodeAudio(fixture("broken-truncated.wav"));
    expect(audio.durationSeconds).toBe(0.5);
    expect(audio.pcm.length).toBe(8000);
  });

  it("decodes into one array sized from the header, not pieces joined at the end", async () => {
    for (const file of ["speech-16k-mono-s16.wav", "speech.flac", "speech-44k1-stereo-s16.wav"]) {
      const { pcm } = await decodeAudio(fixture(file));
      // The declared length plus one second of slack (and a sample of rounding).
      expect(pcm.buffer.byteLength, file).toBeLessThanOrEqual((pcm.length + 16_001) * 4);
      expect(pcm).toEqual(decoded.get(file)!.pcm);
    }
  });

  it("does not keep a buffer sized for what a header claims when far less audio comes", async () => {
    const lying = fixture("speech.flac");
    // STREAMINFO's 36-bit total sample count (bytes 21.5-25): claim one hour at 16 kHz.
    lying[21] = lying[21]! & 0xf0;
    new DataView(lying.buffer).setUint32(22, 16_000 * 3600);
    const audio = await decodeAudio(lying);
    expect(audio.pcm).toEqual(decoded.get("speech.flac")!.pcm);
    expect(audio.pcm.buffer.byteLength).toBe(audio.pcm.length * 4);
  });

  it("returns a fresh array and leaves the input bytes alone", async () => {
    const bytes = fixture("speech-16k-mono-s16.wav");
    const before = bytes.slice();
    const first = await decodeAudio(bytes);
    first.pcm.fill(0);
    const second = await decodeAudio(bytes);
    expect(bytes).toEqual(before);
    expect(rms(second.pcm)).toBeGreaterThan(0.05);
  });

  it("decodes concurrently without mixing up streams", async () => {
    const files = ["speech.flac", "speech.opus.ogg", "speech-44k1-stereo-s16.wav", "speech.mp3"];
    const results = await Promise.all(files.map((file) => decodeAudio(fixture(file))));
    results.forEach((audio, i) => expect(audio.pcm).toEqual(decoded.get(files[i]!)!.pcm));
  });

  it("resamples at every converter quality to the same length", async () => {
    for (const resampleQuality of ["fastest", "medium", "best"] as const) {
      const audio = await decodeAudio(fixture("speech.vorbis.ogg"), { resampleQuality });
      expect(audio.pcm.length).toBe(decoded.get("speech.vorbis.ogg")!.pcm.length);
    }
  });
});
