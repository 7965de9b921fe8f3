import { decodeAudio } from "../gpu-worker/audio/decode.js";
import { AUDIO_CONTENT_TYPES, AudioError, sniffAudioFormat } from "../shared/audio-sniff.js";
import type { ServiceConfig } from "../shared/config.js";
import type { AudioProbe } from "./deps.js";

/**
 * On Node the edge decodes the whole upload once before storing it: a file that does not decode, or whose real
 * length is out of bounds, is refused up front instead of failing later in the worker.
 */
export function nodeAudioProbe(limits: ServiceConfig["limits"]): AudioProbe {
  return async (bytes) => {
    const sniffed = sniffAudioFormat(bytes);
    if (!sniffed) throw new AudioError("unsupported_format", "not a supported audio format");
    const decoded = await decodeAudio(bytes, { maxDurationSeconds: limits.maxDurationSeconds, minDurationSeconds: limits.minDurationSeconds });
    return { format: decoded.sourceFormat, contentType: AUDIO_CONTENT_TYPES[decoded.sourceFormat], durationSeconds: decoded.durationSeconds };
  };
}
