import type { ServiceConfig } from "../shared/config.js";
import { decodeAudio, type DecodedAudio } from "./audio/decode.js";

/**
 * A job's audio, decoded with the limits the Node edge applies to an upload (its full decode). The Workers edge
 * reads headers only, so what they claim (a length, frames that are not there) is checked here: the job then
 * fails with the AudioError's code, the one the Node edge answers 422 or 415 with, and bills nothing.
 */
export function decodeJobAudio(
  bytes: Uint8Array,
  limits: ServiceConfig["limits"],
  onProgress?: (fraction: number) => void,
): Promise<DecodedAudio> {
  return decodeAudio(bytes, { maxDurationSeconds: limits.maxDurationSeconds, minDurationSeconds: limits.minDurationSeconds, onProgress });
}
