import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeAudio } from "../../gpu-worker/audio/decode.js";
import { overallProgress, phaseSpans, ProgressReporter, type ProgressWrite } from "../../gpu-worker/job-progress.js";

describe("job progress across phases", () => {
  it("maps each phase's fraction into its own span of the bar, in phase order", () => {
    expect(overallProgress("fetching", 0)).toBe(0);
    expect(overallProgress("fetching", 1)).toBe(phaseSpans.decoding[0]);
    expect(overallProgress("decoding", 1)).toBe(phaseSpans.transcribing[0]);
    expect(overallProgress("transcribing", 1)).toBe(1);
    expect(overallProgress("decoding", 0.5)).toBeCloseTo((phaseSpans.decoding[0] + phaseSpans.decoding[1]) / 2, 9);
    expect(overallProgress("transcribing", 7)).toBe(1);
    expect(overallProgress("transcribing", Number.NaN)).toBe(phaseSpans.transcribing[0]);
  });

  it("writes a phase change at once, throttles the rest, and never goes backwards", async () => {
    let clock = 0;
    const writes: ProgressWrite[] = [];
    const reporter = new ProgressReporter(async (w) => void writes.push(w), 250, () => clock);
    await reporter.report("fetching", 0);
    await reporter.report("decoding", 0); // new phase: written although no time has passed
    await reporter.report("decoding", 0.3); // within the interval: skipped
    clock = 300;
    await reporter.report("decoding", 0.6);
    clock = 600;
    await reporter.report("decoding", 0.4); // lower than before: the fraction written stays where it was
    await reporter.report("decoding", 1, { force: true });
    expect(writes.map((w) => w.phase)).toEqual(["fetching", "decoding", "decoding", "decoding"]);
    expect(writes.map((w) => w.progress)).toEqual([0, overallProgress("decoding", 0), overallProgress("decoding", 0.6), overallProgress("decoding", 1)]);
  });

  it("lands writes in the order they were reported, even when an earlier one is slower", async () => {
    let clock = 0;
    const landed: number[] = [];
    const release: (() => void)[] = [];
    const reporter = new ProgressReporter(
      (w) =>
        new Promise<void>((resolve) =>
          release.push(() => {
            landed.push(w.progress);
            resolve();
          }),
        ),
      0,
      () => clock++,
    );
    const first = reporter.report("decoding", 0.1);
    const second = reporter.report("decoding", 0.9);
    // The second write starts only after the first has landed.
    await Promise.resolve();
    expect(release).toHaveLength(1);
    release[0]();
    await first;
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(release).toHaveLength(2);
    release[1]();
    await second;
    expect(landed).toEqual([overallProgress("decoding", 0.1), overallProgress("decoding", 0.9)]);
  });
});

describe("decodeAudio progress", () => {
  it("reports a rising fraction of the declared duration that ends at 1", async () => {
    const bytes = new Uint8Array(readFileSync(new URL("../fixtures/vad-corpus/digital-silence-gap.flac", import.meta.url)));
    const fractions: number[] = [];
    await decodeAudio(bytes, { onProgress: (f) => fractions.push(f) });
    expect(fractions.length).toBeGreaterThan(3); // 128 s in 10-second FLAC slices
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThan(fractions[i - 1]);
    expect(fractions[0]).toBeLessThan(0.2);
    expect(fractions[fractions.length - 1]).toBeCloseTo(1, 3);
  });
});
