/**
 * From chunk-level confidence (the engine's per-utterance scores) to what a transcript says about itself:
 * each segment's `avg_logprob` / `no_speech_prob`, and the job's confidence and language probability. Pure.
 *
 * The merger places words by estimated times (audio/merge.ts), so a segment is scored by the chunks it overlaps
 * in time, weighted by the overlap: exact for one-chunk audio, an average across a seam otherwise.
 */

export interface ScoredChunk {
  startSeconds: number;
  endSeconds: number;
  /** null for chunks transcribed before confidence was recorded. */
  avgLogprob: number | null;
  noSpeechProb: number | null;
  languageProb: number | null;
  language: string;
  /** Generated tokens, the weight of the chunk in the job's mean. */
  tokens: number;
  /** The chunk was judged to hold no speech (its text was dropped). */
  noSpeech: boolean;
}

export interface SegmentScores {
  avg_logprob: number | null;
  no_speech_prob: number | null;
}

export function segmentScores(segment: { start: number; end: number }, chunks: readonly ScoredChunk[]): SegmentScores {
  let weight = 0;
  let logprob = 0;
  let noSpeech = 0;
  for (const c of chunks) {
    if (c.avgLogprob === null || c.noSpeechProb === null) continue;
    // A zero-length segment still belongs to the chunk around it.
    const overlap = Math.min(segment.end, c.endSeconds) - Math.max(segment.start, c.startSeconds);
    const w = overlap > 0 ? overlap : segment.start >= c.startSeconds && segment.start <= c.endSeconds ? 1e-6 : 0;
    if (w <= 0) continue;
    weight += w;
    logprob += w * c.avgLogprob;
    noSpeech += w * c.noSpeechProb;
  }
  if (weight === 0) return { avg_logprob: null, no_speech_prob: null };
  return { avg_logprob: round4(logprob / weight), no_speech_prob: round4(noSpeech / weight) };
}

export interface JobConfidence {
  /** Token-weighted mean log-probability over the chunks that held speech; null when none did or none was scored. */
  avgLogprob: number | null;
  /** Mean probability of the detected language over the chunks that detected it; null when forced or unknown. */
  languageProbability: number | null;
}

export function jobConfidence(chunks: readonly ScoredChunk[], language: string | null, forced: boolean): JobConfidence {
  const spoken = chunks.filter((c) => !c.noSpeech && c.avgLogprob !== null);
  const tokens = spoken.reduce((s, c) => s + Math.max(1, c.tokens), 0);
  const avgLogprob = tokens > 0 ? round4(spoken.reduce((s, c) => s + Math.max(1, c.tokens) * (c.avgLogprob as number), 0) / tokens) : null;
  if (forced || !language) return { avgLogprob, languageProbability: null };
  const probs = spoken.filter((c) => c.language === language && c.languageProb !== null).map((c) => c.languageProb as number);
  return { avgLogprob, languageProbability: probs.length ? round4(probs.reduce((a, b) => a + b, 0) / probs.length) : null };
}

const round4 = (x: number): number => Math.round(x * 10000) / 10000;
