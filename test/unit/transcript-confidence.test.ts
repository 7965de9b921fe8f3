import { describe, expect, it } from "vitest";
import { jobConfidence, segmentScores, type ScoredChunk } from "../../gpu-worker/transcript-confidence.js";
import { isNoSpeech, noSpeechThresholds } from "../../shared/no-speech.js";

const chunk = (over: Partial<ScoredChunk>): ScoredChunk => ({
  startSeconds: 0,
  endSeconds: 30,
  avgLogprob: -0.1,
  noSpeechProb: 0.01,
  languageProb: 0.9,
  language: "English",
  tokens: 10,
  noSpeech: false,
  ...over,
});

describe("segment scores", () => {
  it("are the chunk's own inside one chunk and overlap-weighted across a seam", () => {
    const chunks = [chunk({ endSeconds: 30, avgLogprob: -0.2 }), chunk({ startSeconds: 30, endSeconds: 60, avgLogprob: -0.5, noSpeechProb: 0.1 })];
    expect(segmentScores({ start: 2, end: 10 }, chunks)).toEqual({ avg_logprob: -0.2, no_speech_prob: 0.01 });
    // 2 s in the first chunk, 6 s in the second
    expect(segmentScores({ start: 28, end: 36 }, chunks)).toEqual({ avg_logprob: -0.425, no_speech_prob: 0.0775 });
  });

  it("are null when no overlapping chunk was scored", () => {
    expect(segmentScores({ start: 1, end: 2 }, [chunk({ avgLogprob: null, noSpeechProb: null })])).toEqual({ avg_logprob: null, no_speech_prob: null });
    expect(segmentScores({ start: 40, end: 41 }, [chunk({})])).toEqual({ avg_logprob: null, no_speech_prob: null });
  });
});

describe("job confidence", () => {
  it("weighs chunks by tokens, leaves out no-speech chunks, and averages the detected language's probability", () => {
    const c = jobConfidence(
      [
        chunk({ tokens: 30, avgLogprob: -0.1, languageProb: 0.8 }),
        chunk({ tokens: 10, avgLogprob: -0.5, languageProb: 1 }),
        chunk({ tokens: 10, avgLogprob: -3, noSpeech: true, languageProb: 0.2 }),
        chunk({ tokens: 5, avgLogprob: -0.1, language: "German", languageProb: 0.4 }),
      ],
      "English",
      false,
    );
    expect(c.avgLogprob).toBeCloseTo((30 * -0.1 + 10 * -0.5 + 5 * -0.1) / 45, 4);
    expect(c.languageProbability).toBeCloseTo(0.9, 4);
    expect(jobConfidence([chunk({})], "English", true).languageProbability).toBeNull();
    expect(jobConfidence([chunk({ noSpeech: true })], null, false)).toEqual({ avgLogprob: null, languageProbability: null });
  });
});

describe("no-speech decision", () => {
  it("uses the model's thresholds when it states them, Whisper's otherwise", () => {
    expect(noSpeechThresholds({})).toEqual({ noSpeechProb: 0.6, avgLogprob: -1 });
    const own = noSpeechThresholds({ no_speech: { no_speech_prob: 0.5, avg_logprob: -0.2 } });
    expect(isNoSpeech({ noSpeechProb: 0.1, avgLogprob: -0.19 }, own)).toBe(false);
    expect(isNoSpeech({ noSpeechProb: 0.1, avgLogprob: -0.21 }, own)).toBe(true);
    expect(isNoSpeech({ noSpeechProb: 0.51, avgLogprob: 0 }, own)).toBe(true);
  });
});
