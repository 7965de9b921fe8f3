import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planChunks, type AudioChunk, type ChunkPlanOptions, type SpeechFrames } from "../../gpu-worker/audio/chunk.js";

// Planner invariants over random speech layouts, given as frame decisions (as a plugged-in VAD would give them).
// A low sample rate keeps hours of layout cheap; the planner only sees samples and frames.
const sampleRate = 1000;
const frameSamples = 20;

interface Layout {
  speech: SpeechFrames;
  pcm: Float32Array;
}

interface LayoutDescription {
  leadingSilence: number;
  runs: Array<{ speechFrames: number; silenceFrames: number; loudness: number[] }>;
  partialLastFrame: number;
}

const layoutArbitrary = fc.record({
  leadingSilence: fc.integer({ min: 0, max: 300 }),
  runs: fc.array(
    fc.record({
      speechFrames: fc.integer({ min: 1, max: 3000 }),
      silenceFrames: fc.integer({ min: 0, max: 400 }),
      loudness: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }),
    }),
    { minLength: 0, maxLength: 25 },
  ),
  partialLastFrame: fc.integer({ min: 0, max: frameSamples - 1 }),
});

function buildLayout({ leadingSilence, runs, partialLastFrame }: LayoutDescription): Layout {
  const frames = leadingSilence + runs.reduce((sum, r) => sum + r.speechFrames + r.silenceFrames, 0);
  const isSpeech = new Uint8Array(frames + (partialLastFrame > 0 ? 1 : 0));
  const pcm = new Float32Array(frames * frameSamples + partialLastFrame);
  let frame = leadingSilence;
  for (const run of runs) {
    isSpeech.fill(1, frame, frame + run.speechFrames);
    for (let f = 0; f < run.speechFrames; f++) {
      // Uneven loudness inside speech, so in-speech cuts have quieter and louder places to choose from.
      const level = run.loudness[f % run.loudness.length] / 20;
      pcm.fill(level, (frame + f) * frameSamples, (frame + f + 1) * frameSamples);
    }
    frame += run.speechFrames + run.silenceFrames;
  }
  return { speech: { frameSamples, isSpeech }, pcm };
}

/** Options in whole frames, so the test and the planner round the same way. */
const optionsArbitrary = fc
  .record({
    chunkFrames: fc.integer({ min: 200, max: 2000 }),
    overlapFrames: fc.integer({ min: 0, max: 100 }),
    searchFraction: fc.double({ min: 0.02, max: 0.9, noNaN: true }),
    minPauseFrames: fc.integer({ min: 1, max: 25 }),
    skipFrames: fc.integer({ min: 10, max: 200 }),
    paddingFrames: fc.integer({ min: 0, max: 25 }),
    cutWindowFrames: fc.integer({ min: 1, max: 10 }),
  })
  .filter((o) => o.overlapFrames < o.chunkFrames / 2 && o.skipFrames < o.chunkFrames)
  .map((o): ChunkPlanOptions => {
    const seconds = (frames: number): number => (frames * frameSamples) / sampleRate;
    const searchFrames = Math.max(1, Math.floor((o.chunkFrames - o.overlapFrames - 1) * o.searchFraction));
    return {
      chunkSeconds: seconds(o.chunkFrames),
      overlapSeconds: seconds(o.overlapFrames),
      cutSearchSeconds: seconds(searchFrames),
      minPauseSeconds: seconds(o.minPauseFrames),
      skipSilenceSeconds: seconds(o.skipFrames),
      speechPaddingSeconds: seconds(o.paddingFrames),
      cutWindowSeconds: seconds(o.cutWindowFrames),
    };
  });

function frames(seconds: number): number {
  return Math.round((seconds * sampleRate) / frameSamples);
}

/** For each frame, the non-speech run [start, end) that holds it (speech frames: an empty run). */
function nonSpeechRuns(isSpeech: Uint8Array): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(isSpeech.length);
  const end = new Int32Array(isSpeech.length);
  for (let f = 0; f < isSpeech.length; f++) {
    start[f] = isSpeech[f] ? f + 1 : f > 0 && !isSpeech[f - 1] ? start[f - 1] : f;
  }
  for (let f = isSpeech.length - 1; f >= 0; f--) {
    end[f] = isSpeech[f] ? f : f + 1 < isSpeech.length && !isSpeech[f + 1] ? end[f + 1] : f + 1;
  }
  return { start, end };
}

function checkPlan(layout: Layout, options: ChunkPlanOptions, chunks: readonly AudioChunk[]): void {
  const { isSpeech } = layout.speech;
  const maxSamples = Math.floor(options.chunkSeconds * sampleRate);
  const overlapSamples = Math.round(options.overlapSeconds * sampleRate);
  const searchSamples = Math.round(options.cutSearchSeconds * sampleRate);
  const skipFrames = frames(options.skipSilenceSeconds);
  const paddingFrames = Math.min(frames(options.speechPaddingSeconds), Math.floor((skipFrames - 1) / 2));
  const runs = nonSpeechRuns(isSpeech);
  const firstFrame = (c: AudioChunk): number => Math.floor(c.startSample / frameSamples);
  const endFrame = (c: AudioChunk): number => Math.ceil(c.endSample / frameSamples);

  chunks.forEach((chunk, i) => {
    const length = chunk.endSample - chunk.startSample;
    expect(chunk.index).toBe(i);
    expect(length).toBeGreaterThan(0);
    expect(length).toBeLessThanOrEqual(maxSamples);
    expect(chunk.startSample).toBeGreaterThanOrEqual(0);
    expect(chunk.endSample).toBeLessThanOrEqual(layout.pcm.length);
    expect(isSpeech.subarray(firstFrame(chunk), endFrame(chunk)).includes(1), "chunk holds speech").toBe(true);
    if (chunk.endReason !== "speech-end") expect(length).toBeGreaterThanOrEqual(maxSamples - searchSamples);

    const next = chunks[i + 1];
    if (chunk.endReason === "in-speech") {
      expect(next).toBeDefined();
      expect(next.startSample).toBe(chunk.endSample - overlapSamples);
      expect(next.overlapSamples).toBe(overlapSamples);
    } else if (chunk.endReason === "pause") {
      const cutFrame = chunk.endSample / frameSamples;
      expect(Number.isInteger(cutFrame)).toBe(true);
      expect([isSpeech[cutFrame - 1], isSpeech[cutFrame]], "cut inside a pause").toEqual([0, 0]);
      expect(next.startSample).toBe(chunk.endSample);
      expect(next.overlapSamples).toBe(0);
    } else if (next !== undefined) {
      expect(next.startSample).toBeGreaterThan(chunk.endSample);
      expect(next.overlapSamples).toBe(0);
      const gap = isSpeech.subarray(endFrame(chunk), firstFrame(next));
      expect(gap.includes(1), "skipped audio holds no speech").toBe(false);
      const f = endFrame(chunk);
      expect(runs.end[f] - runs.start[f]).toBeGreaterThanOrEqual(skipFrames);
    }
  });

  // Every speech frame is in some chunk.
  let chunkIndex = 0;
  for (let f = 0; f < isSpeech.length; f++) {
    if (!isSpeech[f]) continue;
    const frameEnd = Math.min((f + 1) * frameSamples, layout.pcm.length);
    while (chunkIndex < chunks.length && chunks[chunkIndex].endSample < frameEnd) chunkIndex++;
    const chunk = chunks[chunkIndex];
    if (chunk === undefined || chunk.startSample > f * frameSamples) expect.fail(`speech frame ${f} is in no chunk`);
  }

  // Long silences are skipped: chunks reach into one no further than the padding.
  for (const chunk of chunks) {
    for (let f = firstFrame(chunk); f < endFrame(chunk); f++) {
      if (isSpeech[f]) continue;
      const [start, end] = [runs.start[f], runs.end[f]];
      const isLong = end - start >= skipFrames || start === 0 || end === isSpeech.length;
      const fromSpeech = Math.min(start === 0 ? Infinity : f - start + 1, end === isSpeech.length ? Infinity : end - f);
      if (isLong && fromSpeech > paddingFrames) expect.fail(`frame ${f} of a skipped silence is in a chunk`);
    }
  }
}

describe("planChunks, properties", () => {
  it("keeps chunks within the limit, covers all speech, skips long silences and cuts as documented", () => {
    fc.assert(
      fc.property(layoutArbitrary, optionsArbitrary, (description, options) => {
        const layout = buildLayout(description);
        const chunks = planChunks(layout.pcm, sampleRate, { ...options, speech: layout.speech });
        checkPlan(layout, options, chunks);
      }),
      { numRuns: 300 },
    );
  });

  it("plans nothing when no frame is speech", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), optionsArbitrary, (samples, options) => {
        const speech = { frameSamples, isSpeech: new Uint8Array(Math.ceil(samples / frameSamples)) };
        expect(planChunks(new Float32Array(samples).fill(0.5), sampleRate, { ...options, speech })).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
