/**
 * What an upload is, from its bytes alone: the container format (never the file name or the client's
 * Content-Type), a codec hint, and what its headers declare (sample rate, channels, duration). Pure
 * TypeScript with no Node APIs, so the edge runs it on Workers and the GPU worker before decoding.
 *
 * Headers can lie or be cut short: everything here is a claim to check, never proof that a file decodes.
 * Every parser is bounded by the bytes it is given and throws nothing but AudioError.
 */

export type AudioFormat = "wav" | "flac" | "mp3" | "ogg" | "m4a" | "webm";

/** The encodings the sniffer can name; `null` in a result means "not identified cheaply". */
export type AudioCodec =
  | "pcm"
  | "float"
  | "alaw"
  | "mulaw"
  | "flac"
  | "mp3"
  | "opus"
  | "vorbis"
  | "speex"
  | "aac"
  | "alac";

export const AUDIO_CONTENT_TYPES: Readonly<Record<AudioFormat, string>> = {
  wav: "audio/wav",
  flac: "audio/flac",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  m4a: "audio/mp4",
  webm: "audio/webm",
};

// ---------------------------------------------------------------------------------------------------------
// Errors and limits, shared by the edge (upload checks) and the GPU worker (decoding)
// ---------------------------------------------------------------------------------------------------------

/** Every code an AudioError carries; their HTTP statuses are in shared/api-error.ts (415 or 422). */
export const AUDIO_ERROR_CODES = [
  "unsupported_format",
  "undecodable_audio",
  "empty_audio",
  "audio_too_short",
  "audio_too_long",
  "invalid_samples",
  "too_many_channels",
  "unsupported_sample_rate",
] as const;
export type AudioErrorCode = (typeof AUDIO_ERROR_CODES)[number];

export class AudioError extends Error {
  override readonly name = "AudioError";
  readonly code: AudioErrorCode;

  constructor(code: AudioErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface AudioLimits {
  /** Longest audio accepted, in seconds (billing and GPU time scale with it). */
  maxDurationSeconds: number;
  /** Shortest audio accepted, in seconds: less than this carries no words. */
  minDurationSeconds: number;
  /** Most channels accepted: 8 covers 7.1; more is no speech recording we know of. */
  maxChannels: number;
  minSampleRate: number;
  maxSampleRate: number;
}

export const DEFAULT_AUDIO_LIMITS: Readonly<AudioLimits> = {
  maxDurationSeconds: 4 * 60 * 60,
  minDurationSeconds: 0.1,
  maxChannels: 8,
  minSampleRate: 8_000,
  maxSampleRate: 192_000,
};

/**
 * Rejects what the headers already show to be out of bounds, before anything is decoded or stored.
 * The minimum duration is not checked here: a header may understate, and decoding settles it.
 */
export function checkAudioLimits(
  info: Pick<AudioHeaderInfo, "sampleRate" | "channels" | "durationSeconds">,
  limits: AudioLimits = DEFAULT_AUDIO_LIMITS,
): void {
  const { sampleRate, channels, durationSeconds } = info;
  if (channels !== undefined && channels > limits.maxChannels) {
    throw new AudioError("too_many_channels", `audio has ${channels} channels; at most ${limits.maxChannels} are accepted`);
  }
  if (sampleRate !== undefined && (sampleRate < limits.minSampleRate || sampleRate > limits.maxSampleRate)) {
    throw new AudioError(
      "unsupported_sample_rate",
      `sample rate ${sampleRate} Hz is outside the accepted ${limits.minSampleRate}–${limits.maxSampleRate} Hz`,
    );
  }
  if (durationSeconds !== undefined && durationSeconds > limits.maxDurationSeconds) {
    throw new AudioError(
      "audio_too_long",
      `audio lasts ${formatSeconds(durationSeconds)}; at most ${formatSeconds(limits.maxDurationSeconds)} are accepted`,
    );
  }
}

export function formatSeconds(seconds: number): string {
  return seconds >= 100 ? `${Math.round(seconds)} s` : `${Number(seconds.toPrecision(3))} s`;
}

// ---------------------------------------------------------------------------------------------------------
// Byte helpers (DataView would need an aligned, in-bounds view; these return 0 past the end instead)
// ---------------------------------------------------------------------------------------------------------

const u8 = (b: Uint8Array, at: number): number => b[at] ?? 0;
const u16le = (b: Uint8Array, at: number): number => u8(b, at) | (u8(b, at + 1) << 8);
const u16be = (b: Uint8Array, at: number): number => (u8(b, at) << 8) | u8(b, at + 1);
const u24be = (b: Uint8Array, at: number): number => (u8(b, at) << 16) | (u8(b, at + 1) << 8) | u8(b, at + 2);
const u32le = (b: Uint8Array, at: number): number => (u16le(b, at) + u16le(b, at + 2) * 0x10000) >>> 0;
const u32be = (b: Uint8Array, at: number): number => (u16be(b, at) * 0x10000 + u16be(b, at + 2)) >>> 0;
const u64le = (b: Uint8Array, at: number): number => u32le(b, at) + u32le(b, at + 4) * 2 ** 32;
const u64be = (b: Uint8Array, at: number): number => u32be(b, at) * 2 ** 32 + u32be(b, at + 4);

/** True when the ASCII text `text` is at `at` (and fits in the buffer). */
function hasAscii(b: Uint8Array, at: number, text: string): boolean {
  if (at < 0 || at + text.length > b.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

function indexOfAscii(b: Uint8Array, text: string, from: number, to: number): number {
  const end = Math.min(to, b.length) - text.length;
  const first = text.charCodeAt(0);
  for (let i = Math.max(0, from); i <= end; i++) if (b[i] === first && hasAscii(b, i, text)) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------------------
// Sniffing: magic bytes only
// ---------------------------------------------------------------------------------------------------------

export interface SniffedAudio {
  format: AudioFormat;
  codec: AudioCodec | null;
  contentType: string;
}

/** The container format from the first bytes of a file (a few KB suffice), or null when it is none we take. */
export function sniffAudioFormat(bytes: Uint8Array): SniffedAudio | null {
  const found = sniffContainer(bytes);
  return found && { ...found, contentType: AUDIO_CONTENT_TYPES[found.format] };
}

function sniffContainer(b: Uint8Array): Omit<SniffedAudio, "contentType"> | null {
  if (hasAscii(b, 0, "RIFF") && hasAscii(b, 8, "WAVE")) return { format: "wav", codec: wavCodecHint(b) };
  if (hasAscii(b, 0, "fLaC")) return { format: "flac", codec: "flac" };
  if (hasAscii(b, 0, "OggS")) return { format: "ogg", codec: oggCodecAt(b, 0) };
  if (hasAscii(b, 4, "ftyp")) return { format: "m4a", codec: null };
  if (u32be(b, 0) === EBML_MAGIC) return { format: "webm", codec: matroskaCodecHint(b) };
  if (hasAscii(b, 0, "ID3")) return sniffAfterId3(b);
  if (readMpegFrame(b, 0, true)) return { format: "mp3", codec: "mp3" };
  return null;
}

/** ID3v2 tags prefix MP3 and sometimes FLAC; a tag longer than the bytes we have is almost always MP3's. */
function sniffAfterId3(b: Uint8Array): Omit<SniffedAudio, "contentType"> | null {
  const audioStart = skipId3v2Tags(b);
  if (audioStart === 0) return null;
  if (audioStart >= b.length) return { format: "mp3", codec: "mp3" };
  if (hasAscii(b, audioStart, "fLaC")) return { format: "flac", codec: "flac" };
  if (readMpegFrame(b, audioStart, true)) return { format: "mp3", codec: "mp3" };
  return null;
}

/**
 * Offset just past the ID3v2 tag(s) at 0, or 0 when there are none. Sizes are 4 × 7-bit "synchsafe"
 * bytes; some taggers stack several tags, so up to 8 are skipped.
 */
export function skipId3v2Tags(b: Uint8Array): number {
  let at = 0;
  for (let tags = 0; tags < 8 && hasAscii(b, at, "ID3") && at + 10 <= b.length; tags++) {
    const sizeBytes = [u8(b, at + 6), u8(b, at + 7), u8(b, at + 8), u8(b, at + 9)];
    if (sizeBytes.some((x) => x & 0x80)) break;
    const size = (sizeBytes[0]! << 21) | (sizeBytes[1]! << 14) | (sizeBytes[2]! << 7) | sizeBytes[3]!;
    at += 10 + size + (u8(b, at + 5) & 0x10 ? 10 : 0);
  }
  return at;
}

// ---------------------------------------------------------------------------------------------------------
// Probing: what the headers declare
// ---------------------------------------------------------------------------------------------------------

export type WavEncoding = "pcm" | "float" | "alaw" | "mulaw";

/** Where a WAV file's samples are and how to read them. */
export interface WavLayout {
  encoding: WavEncoding;
  /** Bytes per sample of one channel, from the block alignment (24-bit in a 32-bit container says 4). */
  bytesPerSample: number;
  /** Bytes per frame (all channels), always channels × bytesPerSample. */
  blockAlign: number;
  dataOffset: number;
  /** Sample bytes present, in whole frames: the declared size clamped to the file, or the rest of the file
   *  when the size is a streaming placeholder. */
  dataBytes: number;
  /** The data chunk's size field as written (0xFFFFFFFF or 0 when the writer could not seek back). */
  declaredDataBytes: number;
}

export interface Mp4Layout {
  /** The sample tables come before the samples, so the file can be decoded as it streams in. */
  moovBeforeMdat: boolean;
  /** Compressed packets the sample table lists: each decodes to a bounded number of samples. */
  packetCount?: number;
}

export interface AudioHeaderInfo {
  format: AudioFormat;
  codec: AudioCodec | null;
  /** Samples per second the decoder produces (Opus always decodes at 48 kHz). */
  sampleRate?: number;
  channels?: number;
  /** What the headers declare; the decoded length may differ (truncated files, lying or missing headers). */
  durationSeconds?: number;
  wav?: WavLayout;
  mp4?: Mp4Layout;
}

export interface ProbeOptions {
  /** The whole file's length when `bytes` is only its beginning (an upload's first chunk). */
  totalBytes?: number;
}

/**
 * Sniffs and reads what the headers declare. Throws AudioError "unsupported_format" for anything that
 * is not a format we take (or a WAV encoding we do not decode), "undecodable_audio" for a WAV whose
 * header is missing or broken. For the other formats a damaged header leaves fields undefined instead:
 * their decoders have the last word.
 */
export function probeAudioHeader(bytes: Uint8Array, options: ProbeOptions = {}): AudioHeaderInfo {
  const sniffed = sniffAudioFormat(bytes);
  if (!sniffed) throw new AudioError("unsupported_format", "not a supported audio format (expected WAV, FLAC, MP3, Ogg, M4A or WebM)");
  const totalBytes = Math.max(bytes.length, options.totalBytes ?? bytes.length);
  const whole = totalBytes === bytes.length;
  const base: AudioHeaderInfo = { format: sniffed.format, codec: sniffed.codec };
  switch (sniffed.format) {
    case "wav":
      return { ...base, ...probeWav(bytes, totalBytes) };
    case "flac":
      return { ...base, ...probeFlacStreamInfo(bytes, flacStart(bytes)) };
    case "ogg":
      return { ...base, ...probeOgg(bytes, whole) };
    case "mp3":
      return { ...base, ...probeMp3(bytes, totalBytes) };
    case "m4a":
      return { ...base, ...probeMp4(bytes) };
    case "webm":
      return base;
  }
}

type Probed = Omit<AudioHeaderInfo, "format" | "codec"> & { codec?: AudioCodec | null };

// --- WAV ------------------------------------------------------------------------------------------------

const WAV_ENCODINGS: Readonly<Record<number, WavEncoding>> = { 1: "pcm", 3: "float", 6: "alaw", 7: "mulaw" };
const WAV_SAMPLE_BYTES: Readonly<Record<WavEncoding, readonly number[]>> = {
  pcm: [1, 2, 3, 4],
  float: [4, 8],
  alaw: [1],
  mulaw: [1],
};
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const UNKNOWN_SIZE = 0xffffffff;

interface RiffChunk {
  id: string;
  offset: number;
  size: number;
}

/** RIFF chunks in order, until `data` (which may run to the end of a streamed or truncated file). */
function* riffChunks(b: Uint8Array): Generator<RiffChunk> {
  let at = 12;
  while (at + 8 <= b.length) {
    const id = String.fromCharCode(u8(b, at), u8(b, at + 1), u8(b, at + 2), u8(b, at + 3));
    const size = u32le(b, at + 4);
    yield { id, offset: at + 8, size };
    if (id === "data") return;
    at += 8 + size + (size & 1); // chunks are word aligned: an odd size is followed by a pad byte
  }
}

function wavFormatTag(b: Uint8Array, fmtOffset: number, fmtSize: number): number {
  const tag = u16le(b, fmtOffset);
  // WAVE_FORMAT_EXTENSIBLE keeps the real tag in the first two bytes of its SubFormat GUID.
  return tag === WAVE_FORMAT_EXTENSIBLE && fmtSize >= 40 ? u16le(b, fmtOffset + 24) : tag;
}

function wavCodecHint(b: Uint8Array): AudioCodec | null {
  for (const chunk of riffChunks(b)) {
    if (chunk.id === "fmt ") return WAV_ENCODINGS[wavFormatTag(b, chunk.offset, chunk.size)] ?? null;
  }
  return null;
}

function probeWav(b: Uint8Array, totalBytes: number): Probed {
  let fmt: RiffChunk | undefined;
  let data: RiffChunk | undefined;
  for (const chunk of riffChunks(b)) {
    if (chunk.id === "fmt " && !fmt) fmt = chunk;
    if (chunk.id === "data") data = chunk;
  }
  if (!fmt) throw new AudioError("undecodable_audio", "WAV file has no fmt chunk (header missing or truncated)");
  if (fmt.size < 16 || fmt.offset + 16 > b.length) throw new AudioError("undecodable_audio", "WAV fmt chunk is truncated");
  if (!data) throw new AudioError("undecodable_audio", "WAV file has no data chunk before its end (header-only or truncated)");

  const tag = wavFormatTag(b, fmt.offset, fmt.size);
  const encoding = WAV_ENCODINGS[tag];
  if (!encoding) {
    throw new AudioError("unsupported_format", `WAV encoding 0x${tag.toString(16).padStart(4, "0")} is not supported (PCM, float, A-law, µ-law are)`);
  }
  const channels = u16le(b, fmt.offset + 2);
  const sampleRate = u32le(b, fmt.offset + 4);
  const blockAlign = u16le(b, fmt.offset + 12);
  const bitsPerSample = u16le(b, fmt.offset + 14);
  if (channels === 0) throw new AudioError("undecodable_audio", "WAV header declares 0 channels");
  if (sampleRate === 0) throw new AudioError("undecodable_audio", "WAV header declares a sample rate of 0");
  const bytesPerSample = blockAlign / channels;
  if (!WAV_SAMPLE_BYTES[encoding].includes(bytesPerSample) || bitsPerSample === 0 || bitsPerSample > bytesPerSample * 8) {
    throw new AudioError(
      "undecodable_audio",
      `WAV header is inconsistent: ${encoding}, ${channels} channels, ${bitsPerSample} bits, block align ${blockAlign}`,
    );
  }

  const available = Math.max(0, totalBytes - data.offset);
  // 0xFFFFFFFF, or 0 with an unknown RIFF size, is what writers put when they cannot seek back (pipes).
  const riffSize = u32le(b, 4);
  const placeholder = data.size === UNKNOWN_SIZE || (data.size === 0 && (riffSize === 0 || riffSize === UNKNOWN_SIZE));
  const present = placeholder ? available : Math.min(data.size, available);
  const dataBytes = present - (present % blockAlign);
  return {
    codec: encoding,
    sampleRate,
    channels,
    durationSeconds: dataBytes / blockAlign / sampleRate,
    wav: { encoding, bytesPerSample, blockAlign, dataOffset: data.offset, dataBytes, declaredDataBytes: data.size },
  };
}

// --- FLAC -----------------------------------------------------------------------------------------------

function flacStart(b: Uint8Array): number {
  const afterId3 = skipId3v2Tags(b);
  return afterId3 > 0 ? afterId3 : 0;
}

/** STREAMINFO is the mandatory first metadata block right after "fLaC": fixed layout, 34 bytes. */
function probeFlacStreamInfo(b: Uint8Array, at: number): Probed {
  if (!hasAscii(b, at, "fLaC") || (u8(b, at + 4) & 0x7f) !== 0 || u24be(b, at + 5) < 34 || at + 8 + 18 > b.length) return {};
  const info = at + 8;
  const sampleRate = (u8(b, info + 10) << 12) | (u8(b, info + 11) << 4) | (u8(b, info + 12) >> 4);
  const channels = ((u8(b, info + 12) >> 1) & 0x07) + 1;
  const totalSamples = (u8(b, info + 13) & 0x0f) * 2 ** 32 + u32be(b, info + 14);
  if (sampleRate === 0) return { channels };
  // A total of 0 means "unknown" (written by encoders that stream).
  return { sampleRate, channels, ...(totalSamples > 0 && { durationSeconds: totalSamples / sampleRate }) };
}

// --- Ogg ------------------------------------------------------------------------------------------------

const OGG_PAGE_HEADER = 27;
const OGG_MAX_PAGE = OGG_PAGE_HEADER + 255 + 255 * 255;

interface OggPage {
  granule: number;
  serial: number;
  bodyOffset: number;
  end: number;
}

function readOggPage(b: Uint8Array, at: number): OggPage | null {
  if (!hasAscii(b, at, "OggS") || u8(b, at + 4) !== 0 || at + OGG_PAGE_HEADER > b.length) return null;
  const segments = u8(b, at + 26);
  const bodyOffset = at + OGG_PAGE_HEADER + segments;
  if (bodyOffset > b.length) return null;
  let end = bodyOffset;
  for (let i = 0; i < segments; i++) end += u8(b, at + OGG_PAGE_HEADER + i);
  if (end > b.length) return null;
  // Granule −1 (all ones) marks a page on which no packet ends.
  const granule = u32le(b, at + 10) === UNKNOWN_SIZE ? -1 : u64le(b, at + 6);
  return { granule, serial: u32le(b, at + 14), bodyOffset, end };
}

/** The codec from the first packet (the identification header), which begins right after the first page's header. */
function oggCodecAt(b: Uint8Array, at: number): AudioCodec | null {
  const body = at + OGG_PAGE_HEADER + u8(b, at + 26);
  if (hasAscii(b, body, "OpusHead")) return "opus";
  if (u8(b, body) === 0x01 && hasAscii(b, body + 1, "vorbis")) return "vorbis";
  if (u8(b, body) === 0x7f && hasAscii(b, body + 1, "FLAC")) return "flac";
  if (hasAscii(b, body, "Speex   ")) return "speex";
  return null;
}

function probeOgg(b: Uint8Array, whole: boolean): Probed {
  const first = readOggPage(b, 0);
  if (!first) return {};
  const body = first.bodyOffset;
  let sampleRate: number | undefined;
  let channels: number | undefined;
  let preSkip = 0;
  const codec = oggCodecAt(b, 0);
  if (codec === "opus") {
    channels = u8(b, body + 9);
    preSkip = u16le(b, body + 10);
    sampleRate = 48_000; // Opus always decodes at 48 kHz; the header's "input rate" is informational
  } else if (codec === "vorbis") {
    channels = u8(b, body + 11);
    sampleRate = u32le(b, body + 12);
  } else if (codec === "flac") {
    return probeFlacStreamInfo(b, body + 9);
  }
  const result: Probed = {};
  if (sampleRate) result.sampleRate = sampleRate;
  if (channels) result.channels = channels;
  const lastGranule = whole ? lastOggGranule(b, first.serial) : -1;
  if (sampleRate && lastGranule > preSkip) result.durationSeconds = (lastGranule - preSkip) / sampleRate;
  return result;
}

/** The granule position (samples so far) of the last complete page of this stream, searching back from the end. */
function lastOggGranule(b: Uint8Array, serial: number): number {
  const stop = Math.max(0, b.length - 2 * OGG_MAX_PAGE);
  for (let at = b.length - OGG_PAGE_HEADER; at >= stop; at--) {
    if (b[at] !== 0x4f) continue; // "O"
    const page = readOggPage(b, at);
    if (page && page.serial === serial && page.granule >= 0) return page.granule;
  }
  return -1;
}

// --- MP3 ------------------------------------------------------------------------------------------------

interface MpegFrame {
  sampleRate: number;
  channels: number;
  bitrate: number;
  length: number;
  samplesPerFrame: number;
  sideInfoBytes: number;
}

const MP3_BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MPEG_RATES: Readonly<Record<number, readonly number[]>> = {
  3: [44100, 48000, 32000], // MPEG-1
  2: [22050, 24000, 16000], // MPEG-2
  0: [11025, 12000, 8000], // MPEG-2.5
};

/**
 * An MPEG-1/2/2.5 Layer III frame header at `at`. With `confirm`, the next frame must start where this one
 * ends (when the buffer reaches that far): two random bytes pass the first test one time in ~2000.
 */
function readMpegFrame(b: Uint8Array, at: number, confirm: boolean): MpegFrame | null {
  if (u8(b, at) !== 0xff || (u8(b, at + 1) & 0xe0) !== 0xe0 || at + 4 > b.length) return null;
  const version = (u8(b, at + 1) >> 3) & 3; // 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
  const layer = (u8(b, at + 1) >> 1) & 3; // 1: Layer III
  const bitrateIndex = u8(b, at + 2) >> 4;
  const rateIndex = (u8(b, at + 2) >> 2) & 3;
  const rates = MPEG_RATES[version];
  if (!rates || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const v1 = version === 3;
  const bitrate = (v1 ? MP3_BITRATES_V1 : MP3_BITRATES_V2)[bitrateIndex]! * 1000;
  const sampleRate = rates[rateIndex]!;
  const padding = (u8(b, at + 2) >> 1) & 1;
  const channels = u8(b, at + 3) >> 6 === 3 ? 1 : 2;
  const samplesPerFrame = v1 ? 1152 : 576;
  const length = Math.floor((samplesPerFrame / 8) * bitrate / sampleRate) + padding;
  const sideInfoBytes = v1 ? (channels === 1 ? 17 : 32) : channels === 1 ? 9 : 17;
  if (confirm && at + length + 4 <= b.length && !readMpegFrame(b, at + length, false)) return null;
  return { sampleRate, channels, bitrate, length, samplesPerFrame, sideInfoBytes };
}

/** Rate and channels from the first frame; duration from a Xing/Info or VBRI frame count, else from the bitrate. */
function probeMp3(b: Uint8Array, totalBytes: number): Probed {
  const at = skipId3v2Tags(b);
  const frame = readMpegFrame(b, at, false);
  if (!frame) return {};
  const { sampleRate, channels } = frame;
  const xing = at + 4 + frame.sideInfoBytes;
  let frames = 0;
  if ((hasAscii(b, xing, "Xing") || hasAscii(b, xing, "Info")) && u32be(b, xing + 4) & 1) frames = u32be(b, xing + 8);
  else if (hasAscii(b, at + 36, "VBRI")) frames = u32be(b, at + 36 + 14);
  const durationSeconds = frames > 0
    ? (frames * frame.samplesPerFrame) / sampleRate
    : ((totalBytes - at) * 8) / frame.bitrate; // constant bitrate estimate; ID3v1 and other trailers add a little
  return { sampleRate, channels, durationSeconds };
}

// --- MP4 / M4A ------------------------------------------------------------------------------------------

interface Box {
  type: string;
  offset: number; // first byte of the payload
  end: number; // clamped to the parent
}

/** The boxes directly inside [from, to): each box is at least 8 bytes, so this always advances. */
function* mp4Boxes(b: Uint8Array, from: number, to: number): Generator<Box> {
  let at = from;
  while (at + 8 <= to) {
    let size = u32be(b, at);
    let header = 8;
    if (size === 1) {
      size = u64be(b, at + 8);
      header = 16;
    } else if (size === 0) {
      size = to - at; // "to the end of the file"
    }
    if (size < header) return;
    const type = String.fromCharCode(u8(b, at + 4), u8(b, at + 5), u8(b, at + 6), u8(b, at + 7));
    yield { type, offset: at + header, end: Math.min(at + size, to) };
    at += size;
  }
}

function childBox(b: Uint8Array, parent: Box, type: string): Box | undefined {
  for (const box of mp4Boxes(b, parent.offset, parent.end)) if (box.type === type) return box;
  return undefined;
}

const MP4_CODECS: Readonly<Record<string, AudioCodec>> = { mp4a: "aac", alac: "alac", Opus: "opus", fLaC: "flac", ".mp3": "mp3" };

function probeMp4(b: Uint8Array): Probed {
  let moov: Box | undefined;
  let mdatSeen = false;
  let moovBeforeMdat = false;
  for (const box of mp4Boxes(b, 0, b.length)) {
    if (box.type === "mdat") mdatSeen = true;
    if (box.type === "moov" && !moov) {
      moov = box;
      moovBeforeMdat = !mdatSeen;
    }
  }
  if (!moov) return { mp4: { moovBeforeMdat: false } };
  for (const trak of mp4Boxes(b, moov.offset, moov.end)) {
    if (trak.type !== "trak") continue;
    const track = probeMp4SoundTrack(b, trak);
    if (!track) continue;
    const { packetCount, ...declared } = track;
    return { ...declared, mp4: packetCount === undefined ? { moovBeforeMdat } : { moovBeforeMdat, packetCount } };
  }
  return { mp4: { moovBeforeMdat } };
}

interface Mp4SoundTrack extends Probed {
  packetCount?: number;
}

function probeMp4SoundTrack(b: Uint8Array, trak: Box): Mp4SoundTrack | null {
  const mdia = childBox(b, trak, "mdia");
  const hdlr = mdia && childBox(b, mdia, "hdlr");
  if (!mdia || !hdlr || !hasAscii(b, hdlr.offset + 8, "soun")) return null;
  const result: Mp4SoundTrack = {};
  const mdhd = childBox(b, mdia, "mdhd");
  if (mdhd) {
    const v1 = u8(b, mdhd.offset) === 1;
    const timescale = u32be(b, mdhd.offset + (v1 ? 20 : 12));
    const duration = v1 ? u64be(b, mdhd.offset + 24) : u32be(b, mdhd.offset + 16);
    const unknown = v1 ? u32be(b, mdhd.offset + 24) === UNKNOWN_SIZE : duration === UNKNOWN_SIZE;
    if (timescale > 0 && duration > 0 && !unknown) result.durationSeconds = duration / timescale;
  }
  const minf = childBox(b, mdia, "minf");
  const stbl = minf && childBox(b, minf, "stbl");
  const stsd = stbl && childBox(b, stbl, "stsd");
  if (stsd && u32be(b, stsd.offset + 4) > 0) {
    // The first sample entry: size(4) format(4) reserved(6) data-ref(2) version(2) revision(2) vendor(4)
    // channels(2) sample size(2) compression id(2) packet size(2) rate(16.16)
    const entry = stsd.offset + 8;
    const codec = MP4_CODECS[String.fromCharCode(u8(b, entry + 4), u8(b, entry + 5), u8(b, entry + 6), u8(b, entry + 7))];
    result.codec = codec ?? null;
    const channels = u16be(b, entry + 24);
    const sampleRate = u16be(b, entry + 32);
    // AAC writers often put 2 here whatever the stream holds (the real count is in the esds descriptor).
    if (channels > 0 && codec !== "aac") result.channels = channels;
    if (sampleRate > 0) result.sampleRate = sampleRate;
  }
  const stsz = stbl && childBox(b, stbl, "stsz");
  if (stsz && stsz.offset + 12 <= b.length) result.packetCount = u32be(b, stsz.offset + 8);
  return result;
}

// --- Matroska / WebM ------------------------------------------------------------------------------------

const EBML_MAGIC = 0x1a45dfa3;
const MATROSKA_CODECS: ReadonlyArray<readonly [string, AudioCodec]> = [
  ["A_OPUS", "opus"],
  ["A_VORBIS", "vorbis"],
  ["A_AAC", "aac"],
  ["A_MPEG/L3", "mp3"],
  ["A_FLAC", "flac"],
];

/** The audio CodecID string in the track headers, which sit in the first few KB (a hint, not a parse). */
function matroskaCodecHint(b: Uint8Array): AudioCodec | null {
  const window = 64 * 1024;
  for (const [id, codec] of MATROSKA_CODECS) if (indexOfAscii(b, id, 0, window) >= 0) return codec;
  return null;
}
