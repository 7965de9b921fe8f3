import { API_ERRORS } from "../../shared/api-error.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  AUDIO_CONTENT_TYPES,
  AUDIO_ERROR_CODES,
  AudioError,
  DEFAULT_AUDIO_LIMITS,
  checkAudioLimits,
  probeAudioHeader,
  sniffAudioFormat,
  type AudioHeaderInfo,
} from "../../shared/audio-sniff.js";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/audio/formats/${name}`, import.meta.url)));

/** The fixtures' source: espeak-ng's 22.05 kHz output, 35,655 samples (tools/make_audio_fixtures.sh). */
const SOURCE_SECONDS = 35_655 / 22_050;

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A RIFF chunk; an odd-sized body gets its pad byte, as the spec says. */
function chunk(id: string, body: Uint8Array, declaredSize = body.length): Uint8Array {
  const head = new Uint8Array(8);
  head.set(ascii(id));
  new DataView(head.buffer).setUint32(4, declaredSize >>> 0, true);
  return concat(head, body, new Uint8Array(body.length & 1));
}

interface FmtFields {
  tag?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  /** WAVE_FORMAT_EXTENSIBLE with this SubFormat tag. */
  extensibleTag?: number;
}

function fmt({ tag = 1, channels = 1, rate = 16_000, bits = 16, blockAlign, extensibleTag }: FmtFields): Uint8Array {
  const body = new Uint8Array(extensibleTag === undefined ? 16 : 40);
  const view = new DataView(body.buffer);
  const align = blockAlign ?? channels * Math.ceil(bits / 8);
  view.setUint16(0, extensibleTag === undefined ? tag : 0xfffe, true);
  view.setUint16(2, channels, true);
  view.setUint32(4, rate, true);
  view.setUint32(8, rate * align, true);
  view.setUint16(12, align, true);
  view.setUint16(14, bits, true);
  if (extensibleTag !== undefined) {
    view.setUint16(16, 22, true); // cbSize
    view.setUint16(18, bits, true); // valid bits
    view.setUint16(24, extensibleTag, true); // SubFormat GUID, first two bytes
  }
  return chunk("fmt ", body);
}

function riff(...chunks: Uint8Array[]): Uint8Array {
  const body = concat(ascii("WAVE"), ...chunks);
  return concat(ascii("RIFF"), new Uint8Array(new Uint32Array([body.length]).buffer), body);
}

function probeError(bytes: Uint8Array): AudioError {
  try {
    probeAudioHeader(bytes);
  } catch (error) {
    if (error instanceof AudioError) return error;
    throw error;
  }
  throw new Error("expected probeAudioHeader to throw");
}

describe("sniffAudioFormat on every fixture", () => {
  it.each([
    ["speech-16k-mono-s16.wav", "wav", "pcm"],
    ["speech-44k1-stereo-s16.wav", "wav", "pcm"],
    ["speech-16k-mono-f32.wav", "wav", "float"],
    ["speech-8k-mono-s24.wav", "wav", "pcm"],
    ["speech.flac", "flac", "flac"],
    ["speech.mp3", "mp3", "mp3"],
    ["speech.opus.ogg", "ogg", "opus"],
    ["speech.vorbis.ogg", "ogg", "vorbis"],
    ["speech.m4a", "m4a", null],
    ["speech.webm", "webm", "opus"],
  ] as const)("%s → %s (%s)", (name, format, codec) => {
    expect(sniffAudioFormat(fixture(name))).toEqual({ format, codec, contentType: AUDIO_CONTENT_TYPES[format] });
  });

  it("needs only the first bytes of a file", () => {
    for (const name of ["speech.flac", "speech.mp3", "speech.opus.ogg", "speech.m4a", "speech.webm", "speech-16k-mono-s16.wav"]) {
      expect(sniffAudioFormat(fixture(name).subarray(0, 4096))?.format).toBe(sniffAudioFormat(fixture(name))?.format);
    }
  });

  it("has one canonical content type per format", () => {
    expect(AUDIO_CONTENT_TYPES).toEqual({
      wav: "audio/wav",
      flac: "audio/flac",
      mp3: "audio/mpeg",
      ogg: "audio/ogg",
      m4a: "audio/mp4",
      webm: "audio/webm",
    });
  });
});

describe("sniffAudioFormat on what is not audio", () => {
  it.each<[string, Uint8Array]>([
    ["text named .wav (fixture)", fixture("broken-not-audio.wav")],
    ["empty", new Uint8Array(0)],
    ["RIFF without WAVE (an AVI)", concat(ascii("RIFF"), new Uint8Array(4), ascii("AVI LIST"))],
    ["RF64 (not taken)", concat(ascii("RF64"), new Uint8Array(4), ascii("WAVE"))],
    ["HTML", ascii("<!doctype html><html></html>")],
    ["JSON", ascii('{"file": "speech.wav"}')],
    ["PNG", Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
    ["a lone MPEG sync word", Uint8Array.from([0xff, 0xfb])],
    ["AAC ADTS (layer bits 00)", Uint8Array.from([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc])],
    ["MPEG sync whose next frame is missing", concat(Uint8Array.from([0xff, 0xfb, 0x90, 0x64]), new Uint8Array(600))],
    ["ID3 tag followed by text", concat(ascii("ID3"), Uint8Array.from([4, 0, 0, 0, 0, 0, 2]), ascii("hi"), ascii("not audio at all"))],
    ["fLa (3 bytes)", ascii("fLa")],
  ])("%s → null", (_name, bytes) => {
    expect(sniffAudioFormat(bytes)).toBeNull();
  });

  it("ignores the name: audio bytes under any name are audio, text under an audio name is not", () => {
    // There is no name parameter at all; this documents that the bytes alone decide.
    expect(sniffAudioFormat(fixture("broken-not-audio.wav"))).toBeNull();
    expect(sniffAudioFormat(fixture("speech.flac"))?.format).toBe("flac");
  });

  it("reads through an ID3v2 tag to MP3 or FLAC", () => {
    const tag = concat(ascii("ID3"), Uint8Array.from([4, 0, 0, 0, 0, 0, 4]), new Uint8Array(4));
    expect(sniffAudioFormat(concat(tag, fixture("speech.flac")))?.format).toBe("flac");
    expect(sniffAudioFormat(concat(tag, fixture("speech.mp3")))?.format).toBe("mp3");
    // A tag longer than the bytes we have (the first chunk of an upload with cover art) is MP3's.
    const bigTag = concat(ascii("ID3"), Uint8Array.from([3, 0, 0, 0, 0x7f, 0x7f, 0x7f]), new Uint8Array(100));
    expect(sniffAudioFormat(bigTag)?.format).toBe("mp3");
  });

  it("names Speex in Ogg (which is not decodable) instead of guessing", () => {
    const opus = fixture("speech.opus.ogg").slice();
    opus.set(ascii("Speex   "), 28);
    expect(sniffAudioFormat(opus)).toMatchObject({ format: "ogg", codec: "speex" });
  });
});

describe("probeAudioHeader on the fixtures", () => {
  it.each([
    ["speech-16k-mono-s16.wav", 16_000, 1],
    ["speech-44k1-stereo-s16.wav", 44_100, 2],
    ["speech-16k-mono-f32.wav", 16_000, 1],
    ["speech-8k-mono-s24.wav", 8_000, 1],
    ["speech.flac", 16_000, 1],
    ["speech.opus.ogg", 48_000, 1],
    ["speech.vorbis.ogg", 22_050, 1],
  ] as const)("%s declares %i Hz, %i channel(s) and the source's duration", (name, sampleRate, channels) => {
    const info = probeAudioHeader(fixture(name));
    expect(info).toMatchObject({ sampleRate, channels });
    expect(info.durationSeconds).toBeCloseTo(SOURCE_SECONDS, 2);
  });

  it("reads MP3 rate, channels and frame count (the Xing count includes the encoder's padding)", () => {
    const info = probeAudioHeader(fixture("speech.mp3"));
    expect(info).toMatchObject({ format: "mp3", sampleRate: 22_050, channels: 1 });
    expect(info.durationSeconds).toBeGreaterThan(SOURCE_SECONDS);
    expect(info.durationSeconds).toBeLessThan(SOURCE_SECONDS + 0.1);
  });

  it("reads the M4A sample table, even with the index at the end", () => {
    const info = probeAudioHeader(fixture("speech.m4a"));
    expect(info).toMatchObject({ format: "m4a", codec: "aac", sampleRate: 44_100, mp4: { moovBeforeMdat: false } });
    expect(info.mp4?.packetCount).toBe(71);
    expect(info.channels).toBeUndefined(); // the AAC sample entry says 2 for this mono file: not trusted
    expect(info.durationSeconds).toBeCloseTo(SOURCE_SECONDS, 1);
  });

  it("leaves WebM durations to the decoder", () => {
    expect(probeAudioHeader(fixture("speech.webm"))).toEqual({ format: "webm", codec: "opus" });
  });

  it("describes where WAV samples are", () => {
    expect(probeAudioHeader(fixture("speech-8k-mono-s24.wav")).wav).toEqual({
      encoding: "pcm",
      bytesPerSample: 3,
      blockAlign: 3,
      dataOffset: 68, // after an extensible fmt chunk
      dataBytes: 38_808,
      declaredDataBytes: 38_808,
    });
  });

  it("clamps a truncated WAV to the bytes present, or to totalBytes when given only a prefix", () => {
    expect(probeAudioHeader(fixture("broken-truncated.wav")).durationSeconds).toBe(0.5);
    const head = fixture("speech-16k-mono-s16.wav").subarray(0, 1000);
    expect(probeAudioHeader(head, { totalBytes: 51_790 }).durationSeconds).toBeCloseTo(SOURCE_SECONDS, 3);
  });

  it("reports a header-only and an empty WAV as 0 s", () => {
    expect(probeAudioHeader(fixture("broken-header-only.wav")).durationSeconds).toBe(0);
    expect(probeAudioHeader(fixture("broken-zero-data.wav")).durationSeconds).toBe(0);
  });

  it("takes Ogg durations from the last complete page, so a cut file reports what is left", () => {
    const ogg = fixture("speech.vorbis.ogg");
    // Its pages end at 58 (headers), 3404 (22,144 samples) and 8942 (all 35,655): cut inside the last one.
    expect(probeAudioHeader(ogg.subarray(0, ogg.length - 100)).durationSeconds).toBe(22_144 / 22_050);
    // With only a prefix (no end), no duration is claimed at all.
    expect(probeAudioHeader(ogg.subarray(0, 4096), { totalBytes: ogg.length }).durationSeconds).toBeUndefined();
  });

  it("throws unsupported_format for what is not audio", () => {
    expect(probeError(fixture("broken-not-audio.wav")).code).toBe("unsupported_format");
  });
});

describe("probeAudioHeader on crafted WAV headers", () => {
  const samples = new Uint8Array(3200); // 0.1 s of 16 kHz s16 mono

  it("walks past odd-sized chunks and their pad byte", () => {
    const wav = riff(fmt({}), chunk("LIST", ascii("odd")), chunk("data", samples));
    expect(probeAudioHeader(wav)).toMatchObject({ sampleRate: 16_000, durationSeconds: 0.1 });
    expect(probeAudioHeader(wav).wav?.dataOffset).toBe(12 + 24 + 12 + 8);
  });

  it("reads WAVE_FORMAT_EXTENSIBLE float and PCM", () => {
    const float = riff(fmt({ extensibleTag: 3, bits: 32 }), chunk("data", new Uint8Array(6400)));
    expect(probeAudioHeader(float)).toMatchObject({ codec: "float", wav: { encoding: "float", bytesPerSample: 4 } });
    const pcm24in32 = riff(fmt({ extensibleTag: 1, bits: 32, channels: 2 }), chunk("data", new Uint8Array(64)));
    expect(probeAudioHeader(pcm24in32).wav).toMatchObject({ encoding: "pcm", bytesPerSample: 4, blockAlign: 8 });
  });

  it("reads 64-bit float, A-law and µ-law", () => {
    expect(probeAudioHeader(riff(fmt({ tag: 3, bits: 64 }), chunk("data", samples))).wav?.bytesPerSample).toBe(8);
    expect(probeAudioHeader(riff(fmt({ tag: 6, bits: 8, rate: 8000 }), chunk("data", samples))).codec).toBe("alaw");
    expect(probeAudioHeader(riff(fmt({ tag: 7, bits: 8, rate: 8000 }), chunk("data", samples))).durationSeconds).toBe(0.4);
  });

  it("treats a huge declared data size as a truncated file, not as audio to allocate", () => {
    const wav = riff(fmt({}), chunk("data", samples, 0xfffffff0));
    expect(probeAudioHeader(wav).wav).toMatchObject({ dataBytes: 3200, declaredDataBytes: 0xfffffff0 });
  });

  it("reads to the end when the size is a pipe placeholder (0xFFFFFFFF, or 0 with an unknown RIFF size)", () => {
    expect(probeAudioHeader(riff(fmt({}), chunk("data", samples, 0xffffffff))).durationSeconds).toBe(0.1);
    const zeroSizes = riff(fmt({}), chunk("data", samples, 0));
    zeroSizes.set([0, 0, 0, 0], 4);
    expect(probeAudioHeader(zeroSizes).durationSeconds).toBe(0.1);
    // A real RIFF size with a 0 data size is an empty file.
    expect(probeAudioHeader(riff(fmt({}), chunk("data", new Uint8Array(0)))).durationSeconds).toBe(0);
  });

  it("counts whole frames only", () => {
    const wav = riff(fmt({ channels: 2 }), chunk("data", new Uint8Array(4 * 10 + 3)));
    expect(probeAudioHeader(wav).wav?.dataBytes).toBe(40);
  });

  it.each<{ name: string; bytes: Uint8Array; code: string; message: RegExp }>([
    { name: "no fmt chunk", bytes: riff(chunk("data", samples)), code: "undecodable_audio", message: /no fmt chunk/ },
    { name: "a fmt chunk cut short", bytes: riff(chunk("fmt ", new Uint8Array(8))), code: "undecodable_audio", message: /fmt chunk is truncated/ },
    { name: "only RIFF and WAVE", bytes: riff(), code: "undecodable_audio", message: /no fmt chunk/ },
    { name: "no data chunk", bytes: riff(fmt({})), code: "undecodable_audio", message: /no data chunk/ },
    {
      name: "a header cut inside the fmt chunk",
      bytes: riff(fmt({}), chunk("data", samples)).subarray(0, 30),
      code: "undecodable_audio",
      message: /truncated/,
    },
    { name: "0 channels", bytes: riff(fmt({ channels: 0, blockAlign: 2 }), chunk("data", samples)), code: "undecodable_audio", message: /0 channels/ },
    { name: "a 0 Hz rate", bytes: riff(fmt({ rate: 0 }), chunk("data", samples)), code: "undecodable_audio", message: /sample rate of 0/ },
    { name: "a block align that disagrees", bytes: riff(fmt({ blockAlign: 5 }), chunk("data", samples)), code: "undecodable_audio", message: /inconsistent/ },
    { name: "12-bit float", bytes: riff(fmt({ tag: 3, bits: 12 }), chunk("data", samples)), code: "undecodable_audio", message: /inconsistent/ },
    { name: "IMA ADPCM", bytes: riff(fmt({ tag: 0x11, bits: 4, blockAlign: 256 }), chunk("data", samples)), code: "unsupported_format", message: /0x0011/ },
    { name: "MP3 in WAV", bytes: riff(fmt({ extensibleTag: 0x55 }), chunk("data", samples)), code: "unsupported_format", message: /0x0055/ },
  ])("$name → $code", ({ bytes, code, message }) => {
    const error = probeError(bytes);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });
});

describe("checkAudioLimits", () => {
  const ok: Pick<AudioHeaderInfo, "sampleRate" | "channels" | "durationSeconds"> = { sampleRate: 16_000, channels: 2, durationSeconds: 60 };
  const codeOf = (info: typeof ok): string | undefined => {
    try {
      checkAudioLimits(info);
      return undefined;
    } catch (error) {
      return (error as AudioError).code;
    }
  };

  it("accepts 8–192 kHz, up to 8 channels, up to 4 h by default", () => {
    expect(DEFAULT_AUDIO_LIMITS).toEqual({
      maxDurationSeconds: 14_400,
      minDurationSeconds: 0.1,
      maxChannels: 8,
      minSampleRate: 8000,
      maxSampleRate: 192_000,
    });
    for (const info of [ok, { sampleRate: 8000 }, { sampleRate: 192_000 }, { channels: 8 }, { durationSeconds: 14_400 }, {}]) {
      expect(codeOf(info)).toBeUndefined();
    }
  });

  it.each([
    [{ ...ok, channels: 9 }, "too_many_channels"],
    [{ ...ok, sampleRate: 7999 }, "unsupported_sample_rate"],
    [{ ...ok, sampleRate: 384_000 }, "unsupported_sample_rate"],
    [{ ...ok, durationSeconds: 14_400.5 }, "audio_too_long"],
  ])("%o → %s", (info, code) => {
    expect(codeOf(info)).toBe(code);
  });

  it("takes custom limits and says which limit was hit", () => {
    expect(() => checkAudioLimits(ok, { ...DEFAULT_AUDIO_LIMITS, maxDurationSeconds: 30 })).toThrow(/60 s; at most 30 s/);
  });

  it("maps unsupported formats to 415 and unusable files to 422", () => {
    expect(API_ERRORS.unsupported_format).toBe(415);
    const others = AUDIO_ERROR_CODES.filter((code) => code !== "unsupported_format");
    expect(others.every((code) => API_ERRORS[code] === 422)).toBe(true);
  });
});
