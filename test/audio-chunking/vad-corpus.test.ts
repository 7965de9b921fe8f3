import { beforeAll, describe, expect, it } from "vitest";
import { createEnergySpeechDetector, detectSpeechByEnergy } from "../../gpu-worker/audio/chunk.js";
import { planJobChunks } from "../../gpu-worker/audio/plan-job.js";
import { speechCoverage } from "../../gpu-worker/audio/speech-coverage.js";
import { defaultJobChunking, loadVadCorpus, measureDetector, type DecodedCorpusFile } from "../../bench/vad-corpus.js";

// The labelled corpus of tools/make_vad_corpus.ts; npm run bench:vad prints the full table (and Silero's).
describe("the default (energy) speech detector on the labelled corpus", () => {
  let corpus: DecodedCorpusFile[];
  beforeAll(async () => {
    corpus = await loadVadCorpus();
  }, 60_000);

  it("covers every layout the issue asks for", () => {
    expect(corpus.map((f) => f.name)).toEqual([
      "digital-silence-tail",
      "digital-silence-head",
      "digital-silence-gap",
      "low-noise-islands",
      "tonal-neighbours",
      "quiet-speech",
      "long-silent-edges",
      "telephone-8k",
      "several-voices",
    ]);
    for (const f of corpus) expect(f.speech.length, f.name).toBeGreaterThan(0);
  });

  it("sends at least 99 % of the labelled speech to the model on every layout", async () => {
    const detector = createEnergySpeechDetector();
    for (const file of corpus) {
      const r = await measureDetector(detector, file);
      expect(r.keptSpeechSeconds / r.speechSeconds, file.name).toBeGreaterThanOrEqual(0.99);
    }
  });

  it("skips long silences: at most 5 % of the non-speech goes along where nothing else sounds", async () => {
    const detector = createEnergySpeechDetector();
    for (const name of ["digital-silence-tail", "digital-silence-head", "digital-silence-gap", "quiet-speech", "long-silent-edges", "low-noise-islands"]) {
      const file = corpus.find((f) => f.name === name) as DecodedCorpusFile;
      const r = await measureDetector(detector, file);
      expect(r.sentNonSpeechSeconds / r.nonSpeechSeconds, name).toBeLessThanOrEqual(0.05);
    }
  });

  it("finds no speech in the same backgrounds without the speech", () => {
    const plan = (pcm: Float32Array) => planJobChunks(pcm, 16000, detectSpeechByEnergy(pcm, 16000), defaultJobChunking);
    // Digital silence: the islands zeroed.
    for (const name of ["digital-silence-gap", "quiet-speech"]) {
      const file = corpus.find((f) => f.name === name) as DecodedCorpusFile;
      const silent = Float32Array.from(file.pcm);
      for (const [start, end] of file.speech) silent.fill(0, Math.floor((start - 0.1) * 16000), Math.ceil((end + 0.1) * 16000));
      expect(plan(silent), name).toEqual([]);
    }
    // Low noise: the 34 s before the sentence, longer than a chunk so the planner (not the short-file rule) decides.
    const edges = corpus.find((f) => f.name === "long-silent-edges") as DecodedCorpusFile;
    expect(plan(edges.pcm.subarray(0, 34 * 16000))).toEqual([]);
    expect(planJobChunks(edges.pcm.subarray(0, 20 * 16000), 16000, detectSpeechByEnergy(edges.pcm.subarray(0, 20 * 16000), 16000), defaultJobChunking)).toEqual([]);
  });
});

describe("speechCoverage", () => {
  it("counts labelled speech inside chunks and non-speech sent with it", () => {
    const coverage = speechCoverage(
      [
        [1, 2],
        [5, 6],
      ],
      [{ startSeconds: 0.5, endSeconds: 1.5 }],
      10,
    );
    expect(coverage.speechSeconds).toBeCloseTo(2, 6);
    expect(coverage.keptSpeechSeconds).toBeCloseTo(0.5, 6);
    expect(coverage.nonSpeechSeconds).toBeCloseTo(8, 6);
    expect(coverage.sentNonSpeechSeconds).toBeCloseTo(0.5, 6);
  });
});
