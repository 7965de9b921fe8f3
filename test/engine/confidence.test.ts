import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nonSpeechClips } from "../../gpu-worker/audio/non-speech.js";
import { NoSpeechProbe, logSumExp, probabilityOf, rowConfidence, tokenLogprob } from "../../gpu-worker/engine/confidence.js";
import { Qwen3AsrEngine } from "../../gpu-worker/engine/engine.js";
import { isNoSpeech, noSpeechThresholds } from "../../shared/no-speech.js";
import { readPcm16Wav } from "../support/wav.js";

const row = (...xs: number[]) => Float32Array.from(xs);

describe("log-probabilities of a logits row", () => {
  it("is log softmax, stable for large logits", () => {
    const logits = row(1000, 1000 + Math.log(3)); // float32: the offset is exact to ~1e-5
    expect(logSumExp(logits, 0, 2)).toBeCloseTo(1000 + Math.log(4), 4);
    expect(tokenLogprob(logits, 0, 2, 0)).toBeCloseTo(Math.log(1 / 4), 4);
    expect(tokenLogprob(logits, 0, 2, 1)).toBeCloseTo(Math.log(3 / 4), 4);
  });

  it("reads the row at its offset in a batch and sums a set of tokens", () => {
    const logits = row(9, 9, 9, 0, 0, Math.log(2));
    expect(probabilityOf(logits, 3, 3, [2])).toBeCloseTo(0.5, 9);
    expect(probabilityOf(logits, 3, 3, [0, 1])).toBeCloseTo(0.5, 9);
    expect(probabilityOf(logits, 3, 3, [7])).toBe(0); // an id outside the vocabulary has no probability
  });
});

describe("NoSpeechProbe", () => {
  // vocab: 0 eos, 1 "language", 2 " None", 3 " English", 4 <asr_text>, 5 a word
  const tokens = { languagePrefix: [1], noneId: 2, textStartId: 4, eosIds: [0] };
  const favour = (id: number, p: number) => {
    const l = new Float32Array(6).fill(0);
    // softmax: p on `id`, the rest shared equally by the 5 others
    l[id] = Math.log((5 * p) / (1 - p));
    return l;
  };

  it("takes P(None) after `language` when the language is detected", () => {
    const probe = new NoSpeechProbe(tokens, false);
    probe.observe(favour(1, 0.9), 0, 6, []); // step 1 chooses "language"; P(eos) = 0.02
    probe.observe(favour(2, 0.7), 0, 6, [1]); // step 2: P(None) = 0.7
    expect(probe.value).toBeCloseTo(0.7, 6);
  });

  it("takes P(end) at the first text step, after <asr_text> or at once when forced", () => {
    const detected = new NoSpeechProbe(tokens, false);
    detected.observe(favour(1, 0.9), 0, 6, []);
    detected.observe(favour(3, 0.9), 0, 6, [1]); // P(None) = 0.02
    detected.observe(favour(4, 0.9), 0, 6, [1, 3]);
    detected.observe(favour(0, 0.4), 0, 6, [1, 3, 4]); // first text step: P(eos) = 0.4
    detected.observe(favour(0, 0.99), 0, 6, [1, 3, 4, 5]); // later steps do not count
    expect(detected.value).toBeCloseTo(0.4, 6);

    const forced = new NoSpeechProbe(tokens, true);
    forced.observe(favour(0, 0.8), 0, 6, []);
    forced.observe(favour(0, 0.1), 0, 6, [5]);
    expect(forced.value).toBeCloseTo(0.8, 6);
  });

  it("splits confidence into the language name and the text", () => {
    const ids = [1, 3, 4, 5, 5, 0];
    const lp = [Math.log(0.99), Math.log(0.5), Math.log(0.9), -0.2, -0.4, -0.3];
    const c = rowConfidence(ids, lp, tokens, false);
    expect(c.languageProb).toBeCloseTo(0.5, 9);
    expect(c.avgLogprob).toBeCloseTo(-0.3, 9);
    const forced = rowConfidence([5, 0], [-0.5, -0.1], tokens, true);
    expect(forced).toEqual({ avgLogprob: expect.closeTo(-0.3, 9), languageProb: null });
  });
});

describe("the shipped model's confidence", () => {
  const MODEL = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
  let engine: Qwen3AsrEngine;
  beforeAll(async () => {
    engine = await Qwen3AsrEngine.load(MODEL);
  }, 60_000);
  afterAll(() => engine?.close());

  it("scores every chosen token and is confident on speech it knows", async () => {
    const pcm = readPcm16Wav(new URL("../fixtures/audio/speech.wav", import.meta.url));
    const [r] = await engine.transcribe([{ pcm }]);
    expect(r.text).toBe("Set a timer for five minutes.");
    expect(r.tokenLogprobs).toHaveLength(r.generatedIds.length);
    for (const lp of r.tokenLogprobs) expect(lp).toBeLessThanOrEqual(0);
    expect(r.avgLogprob).toBeGreaterThan(-0.05);
    expect(r.languageProb).toBeGreaterThan(0.9);
    expect(r.noSpeechProb).toBeGreaterThanOrEqual(0);
    expect(r.noSpeechProb).toBeLessThan(0.01);
    expect(isNoSpeech(r, noSpeechThresholds(engine.config))).toBe(false);
  });

  it("gives the same scores batched as alone", async () => {
    const pcm = readPcm16Wav(new URL("../fixtures/audio/speech.wav", import.meta.url));
    const noise = nonSpeechClips(16000, 1)[0].pcm;
    const [alone] = await engine.transcribe([{ pcm }]);
    const [batched] = await engine.transcribe([{ pcm }, { pcm: noise }]);
    expect(batched.generatedIds).toEqual(alone.generatedIds);
    batched.tokenLogprobs.forEach((lp, i) => expect(lp).toBeCloseTo(alone.tokenLogprobs[i], 3));
  });

  it("flags most generated non-speech, whose invented sentences score low", async () => {
    const clips = nonSpeechClips(16000, 2);
    const results = await engine.transcribe(clips.map((c) => ({ pcm: c.pcm })));
    // The model writes a sentence for most of them (what the threshold exists for)…
    expect(results.filter((r) => r.text !== "").length).toBeGreaterThan(clips.length / 2);
    // …and the calibrated threshold catches nearly all (bench:no-speech measures 2.9 % accepted over 70 clips).
    const flagged = results.filter((r) => isNoSpeech(r, noSpeechThresholds(engine.config))).length;
    expect(flagged).toBeGreaterThanOrEqual(clips.length - 2);
  });
});
