/**
 * The no-speech decision from the model's own confidence (gpu-worker/engine/confidence.ts). Thresholds were
 * calibrated by `npm run bench:no-speech` on the eval sets' speech and on generated non-speech; a model may
 * override them in its config.json (`no_speech`), since each model's scale of log-probabilities is its own.
 */
export interface NoSpeechThresholds {
  /** Above this probability of "language None" / an immediate end, the clip has no speech. */
  noSpeechProb: number;
  /** Below this mean token log-probability, the text is taken as invented rather than heard. */
  avgLogprob: number;
}

export const defaultNoSpeechThresholds: Readonly<NoSpeechThresholds> = { noSpeechProb: 0.6, avgLogprob: -1 };

export function isNoSpeech(score: { noSpeechProb: number; avgLogprob: number }, thresholds: NoSpeechThresholds = defaultNoSpeechThresholds): boolean {
  return score.noSpeechProb > thresholds.noSpeechProb || score.avgLogprob < thresholds.avgLogprob;
}

/** The model's own thresholds from its config.json, else the defaults (Whisper's, for a model not calibrated here). */
export function noSpeechThresholds(config: { no_speech?: { no_speech_prob: number; avg_logprob: number } }): NoSpeechThresholds {
  const own = config.no_speech;
  return own ? { noSpeechProb: own.no_speech_prob, avgLogprob: own.avg_logprob } : { ...defaultNoSpeechThresholds };
}
