/**
 * Any accepted upload → 16 kHz mono float PCM, prepared the way qwen-asr prepares audio: average the
 * channels, resample, then divide by the peak only when it exceeds 1 and clip to [−1, 1].
 *
 * Decoding streams. The file goes to audio-decode's WASM decoders a slice at a time and each decoded slice
 * is downmixed and resampled at once, so memory is bounded by the 16 kHz output (4 h ≈ 0.9 GB; its pieces are
 * while it is joined) plus one slice, not by source rate × channels. Headers are checked before anything
 * is decoded and the decoded length after every slice, so a small file that claims or expands to hours
 * fails fast with audio_too_long. One exception: an M4A whose index (moov) follows its samples must be
 * decoded in one piece; its packet count is checked first, so it is still bounded by the duration limit.
 *
 * Every failure is an AudioError with a stable code (shared/audio-sniff.ts), except a bad `options` value
 * (RangeError), an abort (the signal's reason) and a missing ffmpeg binary (a deployment error).
 */
import { spawn } from "node:child_process";
import decode from "audio-decode";
import LibSampleRate from "@alexanderolsen/libsamplerate-js";
import { SincResampler } from "./sinc-resampler.js";
import {
  AudioError,
  DEFAULT_AUDIO_LIMITS,
  checkAudioLimits,
  formatSeconds,
  probeAudioHeader,
  skipId3v2Tags,
  type AudioCodec,
  type AudioFormat,
  type AudioHeaderInfo,
  type AudioLimits,
} from "../../shared/audio-sniff.js";

export const TARGET_SAMPLE_RATE = 16_000;

/** `vhq`: our windowed-sinc resampler designed like sox `rate -v` (sinc-resampler.ts); the others are libsamplerate's. */
export type ResampleQuality = "vhq" | "fastest" | "medium" | "best";

export interface DecodeOptions extends Partial<AudioLimits> {
  /**
   * Resampler. "vhq" (default) matches sox's very-high-quality resampler within 0.02 log-mel units on every mel bin
   * (npm run bench:resample); libsamplerate's "fastest" loses up to 0.57 in the top bins (7.5–8 kHz).
   */
  resampleQuality?: ResampleQuality;
  /**
   * Decode with a system ffmpeg instead of the bundled WASM decoders: true for "ffmpeg" on PATH, or a path.
   * Off by default. ffmpeg only demuxes and decodes; sniffing, limits, downmix and resampling stay ours.
   */
  ffmpeg?: boolean | string;
  /** ffmpeg is killed after this long (the WASM decoders need no timer: their work is bounded by the input). */
  ffmpegTimeoutMs?: number;
  /** Checked between slices (graceful shutdown): decoding rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Called after each decoded slice with the share of the declared duration decoded so far (0–1, capped at 1);
   * not called when the header declares no duration.
   */
  onProgress?: (fraction: number) => void;
}

export interface DecodedAudio {
  /** 16 kHz mono samples in [−1, 1]. */
  pcm: Float32Array;
  sampleRate: typeof TARGET_SAMPLE_RATE;
  /** Decoded length, source frames / source rate: what is billed. */
  durationSeconds: number;
  sourceFormat: AudioFormat;
  sourceCodec: AudioCodec | null;
  sourceSampleRate: number;
  /** Channels decoded. audio-decode reports MP3 and AAC whose two channels are identical as 1 channel. */
  sourceChannels: number;
}

export async function decodeAudio(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedAudio> {
  const limits = resolveLimits(options);
  const header = probeAudioHeader(bytes);
  checkAudioLimits(header, limits);
  const slices = options.ffmpeg ? ffmpegSlices(bytes, header, options) : wasmSlices(bytes, header, limits);
  const audio = await toMono16k(slices, limits, options, declaredOutputSamples(header, limits), header.durationSeconds);
  return { ...audio, sourceFormat: header.format, sourceCodec: header.codec };
}

function resolveLimits(options: DecodeOptions): AudioLimits {
  const limits: AudioLimits = {
    maxDurationSeconds: options.maxDurationSeconds ?? DEFAULT_AUDIO_LIMITS.maxDurationSeconds,
    minDurationSeconds: options.minDurationSeconds ?? DEFAULT_AUDIO_LIMITS.minDurationSeconds,
    maxChannels: options.maxChannels ?? DEFAULT_AUDIO_LIMITS.maxChannels,
    minSampleRate: options.minSampleRate ?? DEFAULT_AUDIO_LIMITS.minSampleRate,
    maxSampleRate: options.maxSampleRate ?? DEFAULT_AUDIO_LIMITS.maxSampleRate,
  };
  const valid = Object.values(limits).every((v) => Number.isFinite(v) && v >= 0);
  if (!valid || limits.minSampleRate < 1 || limits.maxChannels < 1) {
    throw new RangeError(`invalid audio limits: ${JSON.stringify(limits)}`);
  }
  return limits;
}

// ---------------------------------------------------------------------------------------------------------
// Decoded slices → 16 kHz mono
// ---------------------------------------------------------------------------------------------------------

/** Decoded, not yet resampled audio: what a decoder yields for one slice of input. */
interface PcmSlice {
  channelData: Float32Array[];
  sampleRate: number;
}

type Mono16k = Omit<DecodedAudio, "sourceFormat" | "sourceCodec">;

/**
 * The 16 kHz length the headers declare (within the duration limit), so the output can be allocated once:
 * joining pieces at the end would hold the audio twice. Untouched pages of an over-declared buffer cost no
 * memory (they are zero pages until written).
 */
function declaredOutputSamples(header: AudioHeaderInfo, limits: AudioLimits): number {
  const seconds = header.durationSeconds;
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return 0;
  return Math.ceil(Math.min(seconds, limits.maxDurationSeconds) * TARGET_SAMPLE_RATE) + TARGET_SAMPLE_RATE;
}

async function toMono16k(
  slices: AsyncIterable<PcmSlice>,
  limits: AudioLimits,
  options: DecodeOptions,
  capacity: number,
  declaredSeconds: number | undefined,
): Promise<Mono16k> {
  let sourceSampleRate = 0;
  let sourceChannels = 0;
  let frames = 0;
  let resampler: Resampler | undefined;
  try {
    for await (const slice of slices) {
      options.signal?.throwIfAborted();
      const length = slice.channelData[0]?.length ?? 0;
      if (length === 0) continue;
      if (!resampler) {
        sourceSampleRate = slice.sampleRate;
        checkAudioLimits({ sampleRate: sourceSampleRate }, limits);
        resampler = await Resampler.create(sourceSampleRate, options.resampleQuality ?? "vhq", capacity);
      } else if (slice.sampleRate !== sourceSampleRate) {
        throw new AudioError("undecodable_audio", `sample rate changes mid-stream (${sourceSampleRate} → ${slice.sampleRate} Hz)`);
      }
      checkAudioLimits({ channels: slice.channelData.length }, limits);
      sourceChannels = Math.max(sourceChannels, slice.channelData.length);
      frames += length;
      if (frames / sourceSampleRate > limits.maxDurationSeconds) {
        throw new AudioError(
          "audio_too_long",
          `audio runs past ${formatSeconds(limits.maxDurationSeconds)} (the most accepted) although its header said otherwise`,
        );
      }
      resampler.push(downmix(slice.channelData, length));
      if (options.onProgress && declaredSeconds !== undefined && declaredSeconds > 0 && Number.isFinite(declaredSeconds)) {
        options.onProgress(Math.min(1, frames / sourceSampleRate / declaredSeconds));
      }
    }
    options.signal?.throwIfAborted();
    if (!resampler || frames === 0) {
      throw new AudioError("empty_audio", "the file contains no audio samples (it is empty, header-only or truncated)");
    }
    const durationSeconds = frames / sourceSampleRate;
    if (durationSeconds < limits.minDurationSeconds) {
      throw new AudioError(
        "audio_too_short",
        `audio lasts ${formatSeconds(durationSeconds)}; at least ${formatSeconds(limits.minDurationSeconds)} are needed`,
      );
    }
    const pcm = resampler.finish(frames);
    normalizePeak(pcm);
    return { pcm, sampleRate: TARGET_SAMPLE_RATE, durationSeconds, sourceSampleRate, sourceChannels };
  } finally {
    resampler?.destroy();
  }
}

/** The mean of the channels, as a new array. NaN or ±Inf anywhere (float WAV can hold them) is an error. */
function downmix(channels: Float32Array[], length: number): Float32Array {
  const mono = new Float32Array(length);
  const count = channels.length;
  let checksum = 0; // NaN and ±Inf survive a sum, so one test per slice finds them
  for (let i = 0; i < length; i++) {
    let sum = 0;
    for (let c = 0; c < count; c++) sum += channels[c]![i]!;
    mono[i] = sum / count;
    checksum += sum;
  }
  if (!Number.isFinite(checksum)) throw new AudioError("invalid_samples", "the audio holds NaN or infinite sample values");
  return mono;
}

/** qwen-asr: divide by the peak only when it exceeds 1 (never amplify), then clip to [−1, 1]. */
function normalizePeak(pcm: Float32Array): void {
  let peak = 0;
  for (let i = 0; i < pcm.length; i++) peak = Math.max(peak, Math.abs(pcm[i]!));
  if (peak <= 1) return;
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.min(1, Math.max(-1, pcm[i]! / peak));
}

type SampleRateConverter = Awaited<ReturnType<typeof LibSampleRate.create>>;

const CONVERTERS = {
  fastest: LibSampleRate.ConverterType.SRC_SINC_FASTEST,
  medium: LibSampleRate.ConverterType.SRC_SINC_MEDIUM_QUALITY,
  best: LibSampleRate.ConverterType.SRC_SINC_BEST_QUALITY,
} as const;

/**
 * Streaming mono resampler to 16 kHz over libsamplerate's "full" API (it keeps filter state between
 * calls). Every call copies its input into WASM memory and returns a new array: nothing is modified in
 * place. Output goes into one preallocated array while it fits (the declared length), else into pieces
 * joined at the end.
 */
class Resampler {
  private readonly pieces: Float32Array[] = [];
  private produced = 0;

  private constructor(
    private readonly sourceRate: number,
    private readonly converter: SampleRateConverter | SincResampler | null,
    private output: Float32Array | null,
  ) {}

  static async create(sourceRate: number, quality: ResampleQuality, capacity = 0): Promise<Resampler> {
    const output = capacity > 0 ? new Float32Array(capacity) : null;
    if (sourceRate === TARGET_SAMPLE_RATE) return new Resampler(sourceRate, null, output);
    if (quality === "vhq") return new Resampler(sourceRate, new SincResampler(sourceRate, TARGET_SAMPLE_RATE), output);
    const converter = await LibSampleRate.create(1, sourceRate, TARGET_SAMPLE_RATE, { converterType: CONVERTERS[quality] });
    return new Resampler(sourceRate, converter, output);
  }

  push(mono: Float32Array): void {
    // libsamplerate-js splits inputs over ~1 M samples itself, but that path ignores a view's byteOffset.
    const part = 500_000;
    for (let at = 0; at < mono.length; at += part) {
      const input = mono.subarray(at, at + part);
      const c = this.converter;
      this.append(c instanceof SincResampler ? c.push(input) : c ? c.full(input) : input);
    }
  }

  private append(samples: Float32Array): void {
    if (this.output && this.produced + samples.length > this.output.length) {
      // Longer than declared: what is written so far becomes the first piece.
      this.pieces.push(this.output.subarray(0, this.produced));
      this.output = null;
    }
    if (this.output) this.output.set(samples, this.produced);
    else this.pieces.push(samples);
    this.produced += samples.length;
  }

  /** All output, exactly round(frames × 16000 / rate) samples long. */
  finish(sourceFrames: number): Float32Array {
    const expected = Math.round((sourceFrames * TARGET_SAMPLE_RATE) / this.sourceRate);
    // The converter holds back its filter delay until more input comes: push silence until it is out.
    if (this.converter instanceof SincResampler) {
      this.append(this.converter.push(new Float32Array(0), true)); // the filter's tail, against zeros
    }
    const silence = new Float32Array(Math.ceil(this.sourceRate / 10));
    for (let i = 0; this.converter && this.produced < expected && i < 100; i++) this.push(silence);
    const output = this.output;
    // Unwritten samples are zeros. A header that declared much more than came (a truncated file) would keep
    // the rest allocated, so then the audio is copied out.
    if (output && expected <= output.length && output.length - expected <= TARGET_SAMPLE_RATE * 60) return output.subarray(0, expected);
    if (output) this.pieces.push(output.subarray(0, this.produced));
    const pcm = new Float32Array(expected);
    let at = 0;
    // Pieces are dropped as they are copied, so the audio is not held twice while it is joined.
    for (let piece = this.pieces.shift(); piece !== undefined && at < expected; piece = this.pieces.shift()) {
      const take = Math.min(piece.length, expected - at);
      pcm.set(take === piece.length ? piece : piece.subarray(0, take), at);
      at += take;
    }
    this.pieces.length = 0;
    return pcm;
  }

  destroy(): void {
    if (this.converter && !(this.converter instanceof SincResampler)) this.converter.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------
// WASM decoders (audio-decode): which decoder gets which slices of the file
// ---------------------------------------------------------------------------------------------------------

type DecoderName = "wav" | "flac" | "mp3" | "opus" | "oga" | "m4a" | "webm";

/** Compressed input per decoder call, small enough that no call can expand to much (Opus silence ≈ 1 s per 20 bytes). */
const SLICE_BYTES = 16 * 1024;
const MP4_SLICE_BYTES = 64 * 1024;
const WAV_SLICE_BYTES = 256 * 1024; // PCM cannot expand: bigger slices are faster
const FLAC_SLICE_SECONDS = 10;
/** Most samples an MP4 packet decodes to, for the bound checked before decoding (AAC-LC: 1024). */
const MP4_SAMPLES_PER_PACKET = 1024;

async function* wasmSlices(bytes: Uint8Array, header: AudioHeaderInfo, limits: AudioLimits): AsyncGenerator<PcmSlice> {
  const { name, input } = decoderInput(bytes, header, limits);
  try {
    for await (const slice of decode(toAsync(input), name)) yield slice;
  } catch (error) {
    if (error instanceof AudioError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new AudioError("undecodable_audio", `could not decode this ${describe(header)} file: ${reason}`, { cause: error });
  }
}

function decoderInput(bytes: Uint8Array, header: AudioHeaderInfo, limits: AudioLimits): { name: DecoderName; input: Iterable<Uint8Array> } {
  switch (header.format) {
    case "wav":
      return { name: "wav", input: canonicalWav(bytes, header) };
    case "flac":
      return { name: "flac", input: flacSlices(bytes, header, limits) };
    case "mp3":
      return { name: "mp3", input: slices(bytes, 0, bytes.length, SLICE_BYTES) };
    case "ogg":
      return { name: oggDecoder(header), input: slices(bytes, 0, bytes.length, SLICE_BYTES) };
    case "m4a":
      return { name: "m4a", input: mp4Input(bytes, header, limits) };
    case "webm":
      if (header.codec !== null && header.codec !== "opus" && header.codec !== "vorbis") throw unsupportedCodec(header);
      return { name: "webm", input: slices(bytes, 0, bytes.length, SLICE_BYTES) };
  }
}

function oggDecoder(header: AudioHeaderInfo): DecoderName {
  if (header.codec === "opus") return "opus";
  if (header.codec === "vorbis") return "oga";
  if (header.codec === "flac") return "flac";
  throw unsupportedCodec(header);
}

function unsupportedCodec(header: AudioHeaderInfo): AudioError {
  return new AudioError("unsupported_format", `${describe(header)} is not supported (in Ogg and WebM: Opus, Vorbis, FLAC)`);
}

function describe(header: AudioHeaderInfo): string {
  return header.codec ? `${header.format}/${header.codec}` : header.format;
}

async function* toAsync(input: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* input;
}

function* slices(bytes: Uint8Array, from: number, to: number, size: number): Generator<Uint8Array> {
  for (let at = from; at < to; at += size) yield bytes.subarray(at, Math.min(at + size, to));
}

/**
 * A plain 44-byte header in front of the sample bytes. The probe has read the real header (odd-sized
 * chunks and their pad byte, WAVE_FORMAT_EXTENSIBLE, placeholder sizes); audio-decode's own parser skips
 * the pad byte of odd-sized chunks and then finds no data.
 */
function* canonicalWav(bytes: Uint8Array, header: AudioHeaderInfo): Generator<Uint8Array> {
  const wav = header.wav!;
  const sampleRate = header.sampleRate!;
  const head = new Uint8Array(44);
  const view = new DataView(head.buffer);
  const ascii = (at: number, text: string): void => {
    for (let i = 0; i < text.length; i++) head[at + i] = text.charCodeAt(i);
  };
  // Placeholder sizes ("read to the end"): exactly the data bytes follow, and a size field cannot overflow.
  ascii(0, "RIFF");
  view.setUint32(4, 0xffffffff, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, { pcm: 1, float: 3, alaw: 6, mulaw: 7 }[wav.encoding], true);
  view.setUint16(22, wav.blockAlign / wav.bytesPerSample, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, (sampleRate * wav.blockAlign) >>> 0, true);
  view.setUint16(32, wav.blockAlign, true);
  view.setUint16(34, wav.bytesPerSample * 8, true);
  ascii(36, "data");
  view.setUint32(40, 0xffffffff, true);
  yield head;
  const sliceBytes = WAV_SLICE_BYTES - (WAV_SLICE_BYTES % wav.blockAlign);
  yield* slices(bytes, wav.dataOffset, wav.dataOffset + wav.dataBytes, sliceBytes);
}

/**
 * An index moov before the samples streams in 64 KB slices; one after them needs the whole file at once
 * (audio-decode re-joins everything it has until the index is complete). Either way the packet count
 * bounds the decoded length before decoding starts.
 */
function mp4Input(bytes: Uint8Array, header: AudioHeaderInfo, limits: AudioLimits): Iterable<Uint8Array> {
  const packets = header.mp4?.packetCount ?? 0;
  const rate = header.sampleRate ?? 0;
  if (packets > 0 && rate > 0 && (packets * MP4_SAMPLES_PER_PACKET) / rate > limits.maxDurationSeconds * 1.05 + 1) {
    throw new AudioError(
      "audio_too_long",
      `the M4A sample table lists ${packets} packets (≈ ${formatSeconds((packets * MP4_SAMPLES_PER_PACKET) / rate)}); at most ${formatSeconds(limits.maxDurationSeconds)} are accepted`,
    );
  }
  checkMp4Tables(bytes);
  return header.mp4?.moovBeforeMdat ? slices(bytes, 0, bytes.length, MP4_SLICE_BYTES) : [bytes];
}

// --- MP4: sample tables the demuxer would trust ---------------------------------------------------------

/**
 * @audio/decode-mp4 fills an array as long as each sample table's entry count, or loops that often, before it
 * checks anything: a 16 KB M4A whose stsc claimed 2^31 entries ran the heap out and killed the process, one
 * whose stts claimed as many spun for minutes. It also finds each chunk's samples-per-chunk run by scanning
 * stsc from its end, so many runs × many chunks is quadratic (a 1 MB file: 30 s). So every table it reads is
 * found the way it walks boxes (same containers, same size rules) and must hold the entries it declares, and
 * the stsc scan must fit a budget.
 */
const MP4_CONTAINERS = new Set(["moov", "trak", "mdia", "minf", "stbl", "udta", "edts", "sinf", "wave", "mvex", "traf", "moof"]);
/** About 1 s of the demuxer's stsc scanning (≈ 25 ns a step); real files have a handful of runs. */
const MP4_STSC_SCAN_BUDGET = 50_000_000;
const MP4_MAX_DEPTH = 64;

interface Mp4TableScan {
  maxChunks: number;
  /** first_chunk of every stsc entry seen. */
  stscFirsts: number[][];
}

function checkMp4Tables(bytes: Uint8Array): void {
  const scan: Mp4TableScan = { maxChunks: 0, stscFirsts: [] };
  walkMp4Tables(bytes, 0, bytes.length, 0, scan);
  for (const firsts of scan.stscFirsts) {
    let steps = scan.maxChunks;
    for (const first of firsts) steps += Math.min(Math.max(first - 1, 0), scan.maxChunks);
    if (steps > MP4_STSC_SCAN_BUDGET) {
      throw new AudioError("undecodable_audio", `the M4A sample-to-chunk table (${firsts.length} runs over ${scan.maxChunks} chunks) is too fragmented to decode`);
    }
  }
}

const mp4U32 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) * 2 ** 24 + (((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0))) >>> 0;

/** decode-mp4's walk(): size 0 runs to the end, size 1 takes the low 32 bits of the large size, mdat is skipped. */
function walkMp4Tables(b: Uint8Array, from: number, to: number, depth: number, scan: Mp4TableScan): void {
  if (depth > MP4_MAX_DEPTH) throw new AudioError("undecodable_audio", "the M4A boxes are nested too deeply");
  for (let at = from; at < to - 8; ) {
    let size = mp4U32(b, at);
    const type = String.fromCharCode(b[at + 4] ?? 0, b[at + 5] ?? 0, b[at + 6] ?? 0, b[at + 7] ?? 0);
    if (size === 0) size = to - at;
    else if (size === 1 && at + 16 <= to) {
      size = mp4U32(b, at + 12);
      if (size < 16) return;
    } else if (size < 8) return;
    if (type !== "mdat") {
      if (at + size > to) return;
      const body = at + 8;
      const end = at + size;
      if (type === "stsd") walkMp4SampleEntries(b, body, end, depth, scan);
      else if (type === "meta") walkMp4Tables(b, body + 4, end, depth + 1, scan);
      else if (MP4_CONTAINERS.has(type)) walkMp4Tables(b, body, end, depth + 1, scan);
      else checkMp4Table(b, type, b.subarray(body, end), scan);
    }
    at += size;
  }
}

/** decode-mp4's parseStsd(): each sample entry's child boxes (esds, wave…) start after a versioned header. */
function walkMp4SampleEntries(b: Uint8Array, body: number, end: number, depth: number, scan: Mp4TableScan): void {
  const count = mp4U32(b, body + 4);
  let pos = body + 8;
  for (let i = 0; i < count && pos + 16 <= end; i++) {
    const size = mp4U32(b, pos);
    if (size < 16) break;
    const version = ((b[pos + 16] ?? 0) << 8) | (b[pos + 17] ?? 0);
    const head = version === 2 ? mp4U32(b, pos + 36) || 72 : version === 1 ? 52 : 36;
    if (size > head) walkMp4Tables(b, pos + head, pos + size, depth + 1, scan);
    pos += size;
  }
}

/** One table: its entries must be in its box; entries without bytes of their own (uniform sizes) are bounded by the file. */
function checkMp4Table(b: Uint8Array, type: string, payload: Uint8Array, scan: Mp4TableScan): void {
  const flags = ((payload[1] ?? 0) << 16) | ((payload[2] ?? 0) << 8) | (payload[3] ?? 0);
  let count: number;
  let entriesAt: number;
  let entryBytes: number;
  switch (type) {
    case "stsz": {
      count = mp4U32(payload, 8);
      const uniformSize = mp4U32(payload, 4);
      if (uniformSize > 0 && count * uniformSize > b.length) throw tableTooLong(type, count);
      [entriesAt, entryBytes] = [12, uniformSize > 0 ? 0 : 4];
      break;
    }
    case "stco":
    case "co64":
    case "stsc":
    case "stts":
      count = mp4U32(payload, 4);
      [entriesAt, entryBytes] = [8, { stco: 4, co64: 8, stsc: 12, stts: 8 }[type]];
      break;
    case "elst":
      count = mp4U32(payload, 4);
      [entriesAt, entryBytes] = [8, payload[0] === 1 ? 20 : 12];
      break;
    case "trun": {
      count = mp4U32(payload, 4);
      entriesAt = 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
      // duration, size, flags and composition offset per sample, each present or not
      entryBytes = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => flags & bit).length;
      break;
    }
    default:
      return;
  }
  if (count > b.length || (entryBytes > 0 && entriesAt + count * entryBytes > payload.length)) throw tableTooLong(type, count);
  if (type === "stco" || type === "co64") scan.maxChunks = Math.max(scan.maxChunks, count);
  if (type === "stsc") scan.stscFirsts.push(Array.from({ length: count }, (_, i) => mp4U32(payload, 8 + i * 12)));
}

function tableTooLong(type: string, count: number): AudioError {
  return new AudioError("undecodable_audio", `the M4A ${type} table declares ${count} entries, more than the file holds`);
}

// --- FLAC: frame-aligned slices -------------------------------------------------------------------------

/**
 * audio-decode's FLAC parser drops a frame whenever a slice ends inside the next frame's header (seen with
 * 1–4 KB slices: 242.7 s of a 244.2 s file came back). So FLAC is cut only at frame boundaries, found the
 * way that parser (and libFLAC) finds them: a sync code with a valid header CRC-8 right where the running
 * CRC-16 of the previous frame closes. The frame headers also give the exact length before decoding, and a
 * slice never holds more than FLAC_SLICE_SECONDS, whatever the compression ratio.
 */
function flacSlices(bytes: Uint8Array, header: AudioHeaderInfo, limits: AudioLimits): Uint8Array[] {
  const start = skipId3v2Tags(bytes); // the probe accepted the file: "fLaC" is here
  const audioStart = flacAudioStart(bytes, start);
  const rate = header.sampleRate ?? 48_000;
  const maxSliceSamples = FLAC_SLICE_SECONDS * rate;
  const cuts: number[] = [start, audioStart];
  let sliceSamples = 0;
  let totalSamples = 0;
  for (const frame of flacFrames(bytes, audioStart)) {
    if (frame.offset - cuts[cuts.length - 1]! >= SLICE_BYTES || sliceSamples + frame.samples > maxSliceSamples) {
      cuts.push(frame.offset);
      sliceSamples = 0;
    }
    sliceSamples += frame.samples;
    totalSamples += frame.samples;
  }
  if (totalSamples / rate > limits.maxDurationSeconds) {
    throw new AudioError(
      "audio_too_long",
      `the FLAC frames hold ${formatSeconds(totalSamples / rate)} of audio; at most ${formatSeconds(limits.maxDurationSeconds)} are accepted`,
    );
  }
  cuts.push(bytes.length);
  const result: Uint8Array[] = [];
  for (let i = 1; i < cuts.length; i++) if (cuts[i]! > cuts[i - 1]!) result.push(bytes.subarray(cuts[i - 1]!, cuts[i]));
  return result;
}

/** Past the metadata blocks, each: last-flag + type (1 byte), length (3 bytes), body. */
function flacAudioStart(bytes: Uint8Array, start: number): number {
  let at = start + 4;
  while (at + 4 <= bytes.length) {
    const last = bytes[at]! & 0x80;
    at += 4 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    if (last) return Math.min(at, bytes.length);
  }
  return bytes.length;
}

const FLAC_CRC16 = Uint16Array.from({ length: 256 }, (_, i) => {
  let c = i << 8;
  for (let k = 0; k < 8; k++) c = c & 0x8000 ? (c << 1) ^ 0x8005 : c << 1;
  return c & 0xffff;
});

interface FlacFrame {
  offset: number;
  samples: number;
}

function* flacFrames(b: Uint8Array, from: number): Generator<FlacFrame> {
  let start = from;
  while (start < b.length && flacHeaderLength(b, start) < 0) start++;
  if (start >= b.length) return;
  let crc = 0;
  for (let at = start; at < b.length; at++) {
    if (crc === 0 && at > start + 3 && b[at] === 0xff && flacHeaderLength(b, at) > 0) {
      yield { offset: start, samples: flacFrameSamples(b, start) };
      start = at;
    }
    crc = FLAC_CRC16[(crc >> 8) ^ b[at]!]! ^ ((crc << 8) & 0xffff);
  }
  yield { offset: start, samples: flacFrameSamples(b, start) };
}

/** Length of a valid frame header at `p` (sync, codes, UTF-8 frame number, CRC-8), or −1. */
function flacHeaderLength(b: Uint8Array, p: number): number {
  if (p + 5 > b.length || b[p] !== 0xff || (b[p + 1]! & 0xfe) !== 0xf8) return -1;
  const blockCode = b[p + 2]! >> 4;
  const rateCode = b[p + 2]! & 0x0f;
  if (blockCode === 0 || rateCode === 15 || b[p + 3]! >> 4 > 10 || b[p + 3]! & 1) return -1;
  let q = p + 5 + utf8Extra(b[p + 4]!);
  q += blockCode === 6 ? 1 : blockCode === 7 ? 2 : 0;
  q += rateCode === 12 ? 1 : rateCode === 13 || rateCode === 14 ? 2 : 0;
  if (q >= b.length) return -1;
  let crc = 0;
  for (let i = p; i < q; i++) {
    crc ^= b[i]!;
    for (let k = 0; k < 8; k++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc === b[q] ? q - p + 1 : -1;
}

function utf8Extra(first: number): number {
  return first < 0x80 ? 0 : first < 0xe0 ? 1 : first < 0xf0 ? 2 : first < 0xf8 ? 3 : first < 0xfc ? 4 : first < 0xfe ? 5 : 6;
}

function flacFrameSamples(b: Uint8Array, p: number): number {
  const blockCode = b[p + 2]! >> 4;
  const q = p + 5 + utf8Extra(b[p + 4]!);
  if (blockCode === 1) return 192;
  if (blockCode <= 5) return 576 << (blockCode - 2);
  if (blockCode === 6) return (b[q] ?? 0) + 1;
  if (blockCode === 7) return (((b[q] ?? 0) << 8) | (b[q + 1] ?? 0)) + 1;
  return 256 << (blockCode - 8);
}

// ---------------------------------------------------------------------------------------------------------
// ffmpeg (optional): decodes to float WAV on stdout, parsed as it streams
// ---------------------------------------------------------------------------------------------------------

const DEFAULT_FFMPEG_TIMEOUT_MS = 10 * 60 * 1000;
const FFMPEG_HEADER_MAX_BYTES = 64 * 1024;

async function* ffmpegSlices(bytes: Uint8Array, header: AudioHeaderInfo, options: DecodeOptions): AsyncGenerator<PcmSlice> {
  const binary = typeof options.ffmpeg === "string" ? options.ffmpeg : "ffmpeg";
  const args = ["-nostdin", "-hide_banner", "-loglevel", "error", "-i", "pipe:0", "-map", "0:a:0", "-vn"];
  const child = spawn(binary, [...args, "-c:a", "pcm_f32le", "-f", "wav", "pipe:1"], { stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, error }));
    child.once("close", (code) => resolve({ code }));
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.ffmpegTimeoutMs ?? DEFAULT_FFMPEG_TIMEOUT_MS);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString("utf8");
  });
  child.stdin.on("error", () => {}); // EPIPE when ffmpeg stops reading early; its exit status tells why
  child.stdin.end(bytes);
  try {
    yield* parseFloatWavStream(child.stdout);
    const { code, error } = await exited;
    if (error) throw new Error(`could not run ffmpeg (${binary}): ${error.message}`, { cause: error });
    if (timedOut) throw new AudioError("undecodable_audio", `ffmpeg did not finish decoding this ${describe(header)} file in time`);
    if (code !== 0) {
      throw new AudioError("undecodable_audio", `ffmpeg could not decode this ${describe(header)} file: ${stderr.trim() || `exit ${code}`}`);
    }
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

/** ffmpeg's float WAV on a pipe (its sizes are placeholders): the header, then whole frames as they come. */
async function* parseFloatWavStream(stdout: AsyncIterable<Buffer>): AsyncGenerator<PcmSlice> {
  let pending: Uint8Array = new Uint8Array(0);
  let layout: FloatWavLayout | undefined;
  for await (const chunk of stdout) {
    pending = concatBytes(pending, chunk);
    if (!layout) {
      layout = readFloatWavHeader(pending);
      if (!layout) continue;
      pending = pending.subarray(layout.dataOffset);
    }
    const whole = pending.length - (pending.length % layout.blockAlign);
    if (whole === 0) continue;
    yield deinterleaveFloat32(pending.subarray(0, whole), layout.channels, layout.sampleRate);
    pending = pending.slice(whole);
  }
}

interface FloatWavLayout {
  channels: number;
  sampleRate: number;
  blockAlign: number;
  dataOffset: number;
}

/** The layout once the header is complete; undefined while it may still be arriving. */
function readFloatWavHeader(bytes: Uint8Array): FloatWavLayout | undefined {
  let info: AudioHeaderInfo;
  try {
    info = probeAudioHeader(bytes, { totalBytes: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (bytes.length < FFMPEG_HEADER_MAX_BYTES) return undefined;
    throw new AudioError("undecodable_audio", "ffmpeg's output has no readable WAV header", { cause: error });
  }
  const { wav, channels, sampleRate } = info;
  if (!wav || wav.encoding !== "float" || wav.bytesPerSample !== 4 || !channels || !sampleRate) {
    throw new AudioError("undecodable_audio", "ffmpeg's output is not 32-bit float WAV");
  }
  return { channels, sampleRate, blockAlign: wav.blockAlign, dataOffset: wav.dataOffset };
}

function deinterleaveFloat32(bytes: Uint8Array, channels: number, sampleRate: number): PcmSlice {
  const frames = bytes.length / (4 * channels);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const channelData = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let i = 0, at = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++, at += 4) channelData[c]![i] = view.getFloat32(at, true);
  }
  return { channelData, sampleRate };
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
