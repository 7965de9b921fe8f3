import { planChunks, type AudioChunk, type SpeechFrames } from "./chunk.js";

/** The chunking settings the worker plans a job with (config `chunking`). */
export interface JobChunking {
  chunkSeconds: number;
  overlapSeconds: number;
  skipSilenceSeconds: number;
  /** How far back from the limit to look for a pause (shorter for a model's shorter segments). */
  cutSearchSeconds?: number;
}

/**
 * The chunks a job sends to the model. Short audio (at most one chunk long) is one chunk as it is, unless it
 * holds no speech at all: then there is nothing to transcribe (a model asked anyway may invent a sentence).
 * Long audio is cut at pauses with long silence skipped. Empty means the job has no speech.
 */
export function planJobChunks(pcm: Float32Array, sampleRate: number, speech: SpeechFrames, chunking: JobChunking): AudioChunk[] {
  const seconds = pcm.length / sampleRate;
  if (seconds <= chunking.chunkSeconds) {
    if (!speech.isSpeech.includes(1)) return [];
    return [{ index: 0, startSample: 0, endSample: pcm.length, startSeconds: 0, endSeconds: seconds, overlapSamples: 0, endReason: "speech-end" }];
  }
  return planChunks(pcm, sampleRate, {
    chunkSeconds: chunking.chunkSeconds,
    overlapSeconds: chunking.overlapSeconds,
    skipSilenceSeconds: chunking.skipSilenceSeconds,
    ...(chunking.cutSearchSeconds !== undefined ? { cutSearchSeconds: chunking.cutSearchSeconds } : {}),
    speech,
  });
}
