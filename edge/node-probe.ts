import { AUDIO_CONTENT_TYPES, AudioError, sniffAudioFormat } from "../shared/audio-sniff.js";
import type { ServiceConfig } from "../shared/config.js";
import type { AudioProbe } from "./deps.js";
import { sharedDecodePool, type DecodePool } from "./decode-pool.js";

/**
 * On Node the edge decodes the whole upload once before storing it: a file that does not decode, or whose real
 * length is out of bounds, is refused up front instead of failing later in the worker. The decode runs in a
 * worker-thread pool with a deadline, never on the event loop that answers every other request.
 */
export function nodeAudioProbe(limits: ServiceConfig["limits"], pool: DecodePool = sharedDecodePool()): AudioProbe {
  return async (bytes) => {
    const sniffed = sniffAudioFormat(bytes);
    if (!sniffed) throw new AudioError("unsupported_format", "not a supported audio format");
    const decoded = await pool.decode(bytes, { maxDurationSeconds: limits.maxDurationSeconds, minDurationSeconds: limits.minDurationSeconds });
    return { format: decoded.format, contentType: AUDIO_CONTENT_TYPES[decoded.format], durationSeconds: decoded.durationSeconds };
  };
}
