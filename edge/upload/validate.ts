import { AudioError, sniffAudioFormat } from "../../shared/audio-sniff.js";
import { ApiError, type ApiErrorCode } from "../../shared/api-error.js";
import type { ServiceConfig } from "../../shared/config.js";
import type { AudioProbe, ProbedAudio } from "../deps.js";

const ACCEPTED = "wav, flac, mp3, ogg (opus, vorbis), m4a (aac) and webm (opus)";

/**
 * Everything an upload must pass before anything is stored: a size cap, a format sniffed from the bytes (never
 * the file name or the declared Content-Type), audio that decodes, and a duration within limits.
 */
export async function validateAudio(bytes: Uint8Array, probe: AudioProbe, limits: ServiceConfig["limits"]): Promise<ProbedAudio> {
  if (bytes.length === 0) throw new ApiError("empty_audio", "the uploaded file is empty");
  if (bytes.length > limits.maxUploadBytes) {
    throw new ApiError("file_too_large", `the file is ${bytes.length} bytes; at most ${limits.maxUploadBytes} are accepted`);
  }
  if (!sniffAudioFormat(bytes)) {
    throw new ApiError("unsupported_format", `the file is not audio in a supported format (${ACCEPTED}); formats are detected from the content`);
  }
  let probed: ProbedAudio;
  try {
    probed = await probe(bytes);
  } catch (error) {
    if (error instanceof AudioError) throw new ApiError(error.code as ApiErrorCode, error.message);
    throw error;
  }
  if (probed.durationSeconds < limits.minDurationSeconds) {
    throw new ApiError("audio_too_short", `the audio lasts ${probed.durationSeconds.toFixed(3)} s; at least ${limits.minDurationSeconds} s are needed`);
  }
  if (probed.durationSeconds > limits.maxDurationSeconds) {
    throw new ApiError("audio_too_long", `the audio lasts ${Math.round(probed.durationSeconds)} s; at most ${limits.maxDurationSeconds} s are accepted`);
  }
  return probed;
}
