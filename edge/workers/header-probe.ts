import {
  AUDIO_CONTENT_TYPES,
  AudioError,
  checkAudioLimits,
  DEFAULT_AUDIO_LIMITS,
  formatSeconds,
  probeAudioHeader,
  type AudioHeaderInfo,
} from "../../shared/audio-sniff.js";
import type { ServiceConfig } from "../../shared/config.js";
import type { AudioProbe, ProbedAudio } from "../deps.js";

/**
 * The edge's audio check on Workers: headers only. audio-decode's WASM decoders are not run in the isolate
 * (128 MB, CPU limits), so a file is refused here only when its headers already show it to be unusable.
 * Everything else is decoded by the GPU worker, which fails the job with a reason (undecodable_audio,
 * audio_too_long…) when the body does not match its headers, and bills the decoded duration.
 */
export function headerAudioProbe(limits: ServiceConfig["limits"]): AudioProbe {
  return async (bytes) => probeHeaders({ head: bytes, totalBytes: bytes.length }, limits);
}

export interface HeaderBytes {
  /** The file's first bytes (all of it when it is small). */
  head: Uint8Array;
  totalBytes: number;
  /** The file's last bytes, when `head` is not the whole file: Ogg declares its length only in its last page. */
  tail?: Uint8Array;
}

export function probeHeaders(bytes: HeaderBytes, limits: ServiceConfig["limits"]): ProbedAudio {
  const whole = bytes.head.length >= bytes.totalBytes;
  const info = readHeaders(bytes, whole);
  checkAudioLimits(info, { ...DEFAULT_AUDIO_LIMITS, maxDurationSeconds: limits.maxDurationSeconds, minDurationSeconds: limits.minDurationSeconds });
  refuseMissingHeaders(info, whole, limits.maxDurationSeconds);
  if (info.wav && info.wav.dataBytes === 0) throw new AudioError("empty_audio", "the WAV file holds no samples (header only, or a data chunk of 0 bytes)");
  return {
    format: info.format,
    contentType: AUDIO_CONTENT_TYPES[info.format],
    // Below the minimum only when the headers say so: an estimate must not refuse a file.
    durationSeconds: info.durationSeconds ?? Math.max(limits.minDurationSeconds, estimateSeconds(info, bytes.totalBytes)),
  };
}

function readHeaders({ head, totalBytes, tail }: HeaderBytes, whole: boolean): AudioHeaderInfo {
  const info = probeAudioHeader(head, { totalBytes });
  if (whole || !tail || info.format !== "ogg") return info;
  // The last page's granule position is absolute, so the head followed by the tail reads like the whole stream.
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head);
  joined.set(tail, head.length);
  return { ...info, ...pick(probeAudioHeader(joined), "durationSeconds") };
}

/**
 * Headers every decodable file of the format has, and that sit where we read: FLAC's STREAMINFO and Ogg's
 * identification page open the file; an MP3 frame, an MP4 sound track or a WebM audio track are only
 * known to be missing when the whole file was read.
 */
function refuseMissingHeaders(info: AudioHeaderInfo, whole: boolean, maxDurationSeconds: number): void {
  const missing = (what: string) => new AudioError("undecodable_audio", `the ${info.format} file has no ${what} (damaged or cut short)`);
  // What decoding such a file finds on Node: no samples at all (the same code on both runtimes).
  const noAudio = (what: string) => new AudioError("empty_audio", `the ${info.format} file has no ${what}, so no audio (damaged or cut short)`);
  switch (info.format) {
    case "flac":
      if (!info.sampleRate) throw noAudio("valid STREAMINFO header");
      return;
    case "ogg":
      // The first page names the codec: Theora video, or a page cut short, is nothing we decode.
      if (!info.codec) throw new AudioError("unsupported_format", "the Ogg file holds no Opus, Vorbis, FLAC or Speex stream");
      if (!info.sampleRate) throw missing("complete identification header");
      // With the whole file read, no length means no page past the headers carries audio.
      if (whole && info.durationSeconds === undefined) throw new AudioError("empty_audio", "the Ogg stream ends before its first audio page");
      return;
    case "mp3":
      if (whole && !info.sampleRate) throw noAudio("MPEG audio frame");
      return;
    case "m4a":
      if (whole && !info.codec) throw missing("sound track");
      refuseLongSampleTable(info, maxDurationSeconds);
      return;
    case "webm":
      if (whole && !info.codec) throw missing("audio track");
      return;
    case "wav":
      return; // probeAudioHeader already refuses a WAV without its fmt and data chunks
  }
}

/** Every AAC packet decodes to at least 1024 samples, so the sample table's packet count bounds the length from below. */
function refuseLongSampleTable(info: AudioHeaderInfo, maxDurationSeconds: number): void {
  const packets = info.mp4?.packetCount;
  if (info.codec !== "aac" || !packets || !info.sampleRate) return;
  const atLeast = (packets * 1024) / info.sampleRate;
  if (atLeast > maxDurationSeconds) {
    throw new AudioError("audio_too_long", `the MP4 sample table lists ${packets} AAC packets: at least ${formatSeconds(atLeast)} of audio`);
  }
}

/**
 * When the headers declare no length (WebM from MediaRecorder, streamed FLAC, MP4 with its index at the end of
 * a large file): the size at a high speech bitrate for the codec, which tends to understate. It only sizes the
 * quota check; the GPU worker enforces the limits on the decoded length and records it.
 */
function estimateSeconds(info: AudioHeaderInfo, totalBytes: number): number {
  const bitsPerSecond =
    info.codec === "flac" || info.codec === "pcm"
      ? (info.sampleRate ?? 48_000) * (info.channels ?? 2) * 16
      : info.codec === "opus"
        ? 64_000
        : 128_000;
  return (totalBytes * 8) / bitsPerSecond;
}

function pick<T extends object, K extends keyof T>(from: T, key: K): Partial<Pick<T, K>> {
  return from[key] === undefined ? {} : ({ [key]: from[key] } as Pick<T, K>);
}
