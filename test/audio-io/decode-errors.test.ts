import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeAudio, type DecodeOptions } from "../../gpu-worker/audio/decode.js";
import { AudioError, type AudioErrorCode } from "../../shared/audio-sniff.js";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/audio/formats/${name}`, import.meta.url)));
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** A fixture's copy with `edit` applied through a DataView. */
function patched(name: string, edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = fixture(name).slice();
  edit(new DataView(bytes.buffer), bytes);
  return bytes;
}

/** A canonical 44-byte-header WAV around `data`. */
function wav(data: Uint8Array, { tag = 1, channels = 1, rate = 16_000, bytesPerSample = 2 } = {}): Uint8Array {
  const bytes = new Uint8Array(44 + data.length);
  const view = new DataView(bytes.buffer);
  bytes.set(ascii("RIFF"), 0);
  view.setUint32(4, 36 + data.length, true);
  bytes.set(ascii("WAVEfmt "), 8);
  view.setUint32(16, 16, true);
  view.setUint16(20, tag, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels * bytesPerSample, true);
  view.setUint16(32, channels * bytesPerSample, true);
  view.setUint16(34, bytesPerSample * 8, true);
  bytes.set(ascii("data"), 36);
  view.setUint32(40, data.length, true);
  bytes.set(data, 44);
  return bytes;
}

const floatWav = (samples: number[] | Float32Array, rate = 16_000): Uint8Array =>
  wav(new Uint8Array(Float32Array.from(samples).buffer), { tag: 3, rate, bytesPerSample: 4 });

/** The s16 fixture's samples as float32 (decoded by hand, not by the code under test). */
function speechSamples(): Float32Array {
  const samples = new Int16Array(fixture("speech-16k-mono-s16.wav").slice(44).buffer);
  return Float32Array.from(samples, (v) => v / 32768);
}

async function failure(bytes: Uint8Array, options?: DecodeOptions): Promise<AudioError> {
  try {
    await decodeAudio(bytes, options);
  } catch (error) {
    if (error instanceof AudioError) return error;
    throw error;
  }
  throw new Error("expected decodeAudio to fail");
}

const indexOf = (bytes: Uint8Array, text: string): number => Buffer.from(bytes).indexOf(text);

describe("decodeAudio: each error code from a crafted input", () => {
  const cases: Array<{ name: string; input: () => Uint8Array; options?: DecodeOptions; code: AudioErrorCode; message: RegExp }> = [
    { name: "text named .wav", input: () => fixture("broken-not-audio.wav"), code: "unsupported_format", message: /not a supported audio format/ },
    { name: "an empty upload", input: () => new Uint8Array(0), code: "unsupported_format", message: /not a supported audio format/ },
    {
      name: "IMA ADPCM WAV",
      input: () => patched("speech-16k-mono-s16.wav", (v) => v.setUint16(20, 0x11, true)),
      code: "unsupported_format",
      message: /WAV encoding 0x0011/,
    },
    {
      name: "Speex in Ogg",
      input: () => patched("speech.opus.ogg", (_v, b) => b.set(ascii("Speex   "), 28)),
      code: "unsupported_format",
      message: /ogg\/speex is not supported/,
    },
    {
      name: "AAC in WebM",
      input: () => patched("speech.webm", (_v, b) => b.set(ascii("A_AAC\0"), indexOf(b, "A_OPUS"))),
      code: "unsupported_format",
      message: /webm\/aac is not supported/,
    },
    { name: "an M4A cut in half", input: () => fixture("broken-truncated.m4a"), code: "undecodable_audio", message: /could not decode this m4a file/ },
    {
      name: "a WAV whose fmt chunk was renamed",
      input: () => patched("speech-16k-mono-s16.wav", (_v, b) => b.set(ascii("junk"), 12)),
      code: "undecodable_audio",
      message: /no fmt chunk/,
    },
    {
      name: "a WebM with garbage after its magic number",
      input: () => patched("speech.webm", (_v, b) => b.fill(0x42, 4, 40)),
      code: "undecodable_audio",
      message: /could not decode this webm\/opus file: Not a WebM file/,
    },
    {
      name: "an M4A with an unknown codec",
      input: () => patched("speech.m4a", (_v, b) => b.set(ascii("xxxx"), indexOf(b, "mp4a"))),
      code: "undecodable_audio",
      message: /Unsupported MP4 audio codec: xxxx/,
    },
    { name: "a header-only WAV", input: () => fixture("broken-header-only.wav"), code: "empty_audio", message: /no audio samples/ },
    { name: "a WAV with an empty data chunk", input: () => fixture("broken-zero-data.wav"), code: "empty_audio", message: /no audio samples/ },
    { name: "an MP3 cut before its first whole frame", input: () => fixture("broken-truncated.mp3"), code: "empty_audio", message: /no audio samples/ },
    { name: "0.05 s of audio", input: () => floatWav(speechSamples().subarray(8000, 8800)), code: "audio_too_short", message: /0.05 s; at least 0.1 s/ },
    {
      name: "1.6 s when 2 s are required",
      input: () => fixture("speech.opus.ogg"),
      options: { minDurationSeconds: 2 },
      code: "audio_too_short",
      message: /1.62 s; at least 2 s/,
    },
    { name: "a WAV over the limit", input: () => fixture("speech.flac"), options: { maxDurationSeconds: 1 }, code: "audio_too_long", message: /1.62 s; at most 1 s/ },
    {
      name: "NaN in a float WAV",
      input: () => floatWav(speechSamples().map((v, i) => (i === 12_345 ? Number.NaN : v))),
      code: "invalid_samples",
      message: /NaN or infinite/,
    },
    { name: "+Infinity in a float WAV", input: () => floatWav([0.1, 0.2, Number.POSITIVE_INFINITY, ...new Float32Array(3200)]), code: "invalid_samples", message: /NaN or infinite/ },
    {
      name: "a 9-channel WAV",
      input: () => wav(new Uint8Array(9 * 2 * 3200), { channels: 9 }),
      code: "too_many_channels",
      message: /9 channels; at most 8/,
    },
    {
      name: "stereo when only mono is accepted",
      input: () => fixture("speech-44k1-stereo-s16.wav"),
      options: { maxChannels: 1 },
      code: "too_many_channels",
      message: /2 channels; at most 1/,
    },
    { name: "a 4 kHz WAV", input: () => wav(new Uint8Array(1600), { rate: 4000 }), code: "unsupported_sample_rate", message: /4000 Hz is outside the accepted 8000–192000 Hz/ },
    { name: "a 384 kHz WAV", input: () => wav(new Uint8Array(76_800), { rate: 384_000 }), code: "unsupported_sample_rate", message: /384000 Hz/ },
    {
      name: "48 kHz Opus when at most 44.1 kHz is accepted",
      input: () => fixture("speech.webm"),
      options: { maxSampleRate: 44_100 },
      code: "unsupported_sample_rate",
      message: /48000 Hz/,
    },
  ];

  it.each(cases)("$name → $code", async ({ input, options, code, message }) => {
    const error = await failure(input(), options);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });
});

describe("decodeAudio: bounded time and memory on bomb-like input", () => {
  const bomb = fixture("bomb-5h-silence.flac"); // 39 KB that decode to 5 h

  it("rejects a FLAC whose STREAMINFO declares 5 h before decoding anything", async () => {
    const started = performance.now();
    const error = await failure(bomb);
    expect(error.code).toBe("audio_too_long");
    expect(error.message).toMatch(/18000 s; at most 14400 s/);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("still rejects it before decoding when STREAMINFO hides the length (total 0 = unknown)", async () => {
    const hidden = bomb.slice();
    hidden.fill(0, 21, 26); // the 36-bit total-samples field
    hidden[21] = bomb[21]! & 0xf0; // keep the bits-per-sample nibble
    const started = performance.now();
    const error = await failure(hidden);
    expect(error.code).toBe("audio_too_long");
    expect(error.message).toMatch(/FLAC frames hold 18000 s/);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("rejects an Ogg whose last page claims 10 h before decoding", async () => {
    const bytes = fixture("speech.vorbis.ogg").slice();
    const lastPage = Buffer.from(bytes).lastIndexOf("OggS");
    new DataView(bytes.buffer).setUint32(lastPage + 6, 10 * 3600 * 22_050, true);
    const error = await failure(bytes);
    expect(error.code).toBe("audio_too_long");
    expect(error.message).toMatch(/36000 s/);
  });

  it("rejects an M4A whose sample table lists more packets than the limit allows", async () => {
    const bytes = fixture("speech.m4a").slice();
    const stsz = indexOf(bytes, "stsz");
    new DataView(bytes.buffer).setUint32(stsz + 12, 100_000_000); // MP4 is big-endian
    const error = await failure(bytes);
    expect(error.code).toBe("audio_too_long");
    expect(error.message).toMatch(/100000000 packets/);
  });

  it("stops a stream with no declared length as soon as the decoded audio passes the limit", async () => {
    const error = await failure(fixture("speech.webm"), { maxDurationSeconds: 1 });
    expect(error.code).toBe("audio_too_long");
    expect(error.message).toMatch(/runs past 1 s/);
  });

  it("reads a WAV that declares 4 GB of data but holds 0.1 s without allocating for the claim", async () => {
    const bytes = wav(new Uint8Array(3200));
    new DataView(bytes.buffer).setUint32(40, 0xfffffff0, true);
    const audio = await decodeAudio(bytes);
    expect(audio.durationSeconds).toBe(0.1);
    expect(audio.pcm.length).toBe(1600);
  });
});

describe("decodeAudio: peak normalisation like qwen-asr", () => {
  it("divides by the peak when it exceeds 1, keeping the waveform's shape", async () => {
    const samples = speechSamples().map((v) => v * 3);
    const peak = samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(1);
    const { pcm } = await decodeAudio(floatWav(samples));
    expect(pcm.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeCloseTo(1, 6);
    for (const i of [100, 5000, 20_000]) expect(pcm[i]).toBeCloseTo(samples[i]! / peak, 6);
  });

  it("never amplifies quiet audio", async () => {
    const quiet = speechSamples().map((v) => v * 0.01);
    const { pcm } = await decodeAudio(floatWav(quiet));
    expect(pcm[5000]).toBeCloseTo(quiet[5000]!, 7);
  });
});

describe("decodeAudio: other WAV encodings and layouts", () => {
  it("reads 8-bit, A-law, µ-law and 64-bit float", async () => {
    const speech = speechSamples();
    const u8 = Uint8Array.from(speech, (v) => Math.round(v * 127) + 128);
    const f64 = new Uint8Array(Float64Array.from(speech).buffer);
    for (const bytes of [
      wav(u8, { bytesPerSample: 1 }),
      wav(u8, { tag: 6, bytesPerSample: 1, rate: 8000 }),
      wav(u8, { tag: 7, bytesPerSample: 1, rate: 8000 }),
      wav(f64, { tag: 3, bytesPerSample: 8 }),
    ]) {
      const audio = await decodeAudio(bytes);
      expect(audio.pcm.length).toBeGreaterThan(0);
      expect(audio.pcm.every((v) => Math.abs(v) <= 1)).toBe(true);
    }
  });

  it("finds the data after an odd-sized chunk and its pad byte (audio-decode alone does not)", async () => {
    const plain = fixture("speech-16k-mono-s16.wav");
    const list = Uint8Array.from([...ascii("LIST"), 3, 0, 0, 0, ...ascii("odd"), 0]);
    const bytes = Uint8Array.from([...plain.subarray(0, 36), ...list, ...plain.subarray(36)]);
    new DataView(bytes.buffer).setUint32(4, bytes.length - 8, true);
    const audio = await decodeAudio(bytes);
    expect(audio.pcm).toEqual((await decodeAudio(plain)).pcm);
  });
});

describe("decodeAudio: options", () => {
  it("rejects nonsense limits with a RangeError", async () => {
    await expect(decodeAudio(fixture("speech.flac"), { maxChannels: 0 })).rejects.toThrow(RangeError);
    await expect(decodeAudio(fixture("speech.flac"), { maxDurationSeconds: Number.NaN })).rejects.toThrow(RangeError);
  });

  it("stops when its signal is aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    await expect(decodeAudio(fixture("speech.flac"), { signal: controller.signal })).rejects.toThrow("shutting down");
  });
});
