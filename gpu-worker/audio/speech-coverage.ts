import type { AudioChunk } from "./chunk.js";

/** How well a chunk plan covers labelled speech: what reaches the model and what it is spared. */
export interface SpeechCoverage {
  speechSeconds: number;
  /** Labelled speech inside some chunk. */
  keptSpeechSeconds: number;
  nonSpeechSeconds: number;
  /** Non-speech inside some chunk (model time spent on nothing, and a chance to invent words). */
  sentNonSpeechSeconds: number;
}

/**
 * Compares chunks with labelled speech intervals (seconds) on a grid of `stepSeconds` frames; a frame counts
 * as speech or as sent when its centre lies inside a labelled interval or a chunk.
 */
export function speechCoverage(
  labels: readonly (readonly [number, number])[],
  chunks: readonly Pick<AudioChunk, "startSeconds" | "endSeconds">[],
  durationSeconds: number,
  stepSeconds = 0.01,
): SpeechCoverage {
  const frames = Math.round(durationSeconds / stepSeconds);
  const speech = new Uint8Array(frames);
  const sent = new Uint8Array(frames);
  const mark = (into: Uint8Array, start: number, end: number): void => {
    // Frame f's centre is (f + 0.5)·step: inside [start, end) when f ∈ [start/step − 0.5, end/step − 0.5).
    const from = Math.max(0, Math.ceil(start / stepSeconds - 0.5));
    const to = Math.min(frames, Math.ceil(end / stepSeconds - 0.5));
    into.fill(1, from, Math.max(from, to));
  };
  for (const [start, end] of labels) mark(speech, start, end);
  for (const c of chunks) mark(sent, c.startSeconds, c.endSeconds);
  let speechFrames = 0;
  let kept = 0;
  let sentNonSpeech = 0;
  for (let f = 0; f < frames; f++) {
    if (speech[f]) {
      speechFrames++;
      if (sent[f]) kept++;
    } else if (sent[f]) sentNonSpeech++;
  }
  return {
    speechSeconds: speechFrames * stepSeconds,
    keptSpeechSeconds: kept * stepSeconds,
    nonSpeechSeconds: (frames - speechFrames) * stepSeconds,
    sentNonSpeechSeconds: sentNonSpeech * stepSeconds,
  };
}
