import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { calibrate } from "../../bench/calibrate.js";
import { loadModelDirectory } from "../../gpu-worker/engine/model-dir.js";
import { defaultCalibration } from "../../gpu-worker/scheduler/calibration.js";
import { loadCalibration } from "../../gpu-worker/scheduler/calibration-file.js";
import { fitCalibration } from "../../gpu-worker/scheduler/calibration-fit.js";
import { estimateBatchBytes } from "../../gpu-worker/scheduler/memory-model.js";

const tiny = fileURLToPath(new URL("../fixtures/models/tiny-random", import.meta.url));
const model = loadModelDirectory(tiny).config;
const dtypes = { weights: "float32", io: "float32" } as const;

describe("calibration fit", () => {
  it("recovers the reserve and coefficient that generated the measurements", () => {
    const shapes = [[100], [3000], [3000, 3000, 3000], Array(8).fill(1000)];
    const truth = { ...defaultCalibration, runtimeReserveBytes: 150 * 2 ** 20, coefficients: { weights: 1, kvCache: 1.7, encoderActivations: 1.7, prefillActivations: 1.7, logits: 1.7, ioBuffers: 1.7 } };
    const points = shapes.map((frames) => ({
      frames,
      maxNewTokens: frames.map(() => 40),
      encoderSlicesPerCall: 2,
      measuredPeakBytes: estimateBatchBytes(model, dtypes, frames.map((f) => ({ frames: f, maxNewTokens: 40 })), { encoderSlicesPerCall: 2, calibration: truth }).total,
    }));
    const fit = fitCalibration(model, dtypes, points, { device: "test", measuredAt: "2026-11-25" });
    expect(fit.calibration.coefficients.kvCache).toBeCloseTo(1.7, 3);
    expect(Math.abs(fit.calibration.runtimeReserveBytes - truth.runtimeReserveBytes)).toBeLessThan(1024);
    expect(fit.maxRelativeError).toBeLessThan(1e-4);
  });
});

describe("calibration on the real engine (tiny model, CPU, peak RSS of a fresh process per shape)", () => {
  const dir = mkdtempSync(join(tmpdir(), "calibrate-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("predicts every measured shape within 15 %, and the planner reads the file", async () => {
    cpSync(tiny, dir, { recursive: true });
    const fit = await calibrate(dir);
    for (const p of fit.points) expect(p.relativeError, `batch of ${p.frames.length}`).toBeLessThanOrEqual(0.15);
    writeFileSync(join(dir, "calibration.json"), JSON.stringify(fit.calibration));
    const loaded = loadCalibration(undefined, model, dir);
    expect(loaded.modelVariant).toBe("tiny-random");
    expect(loaded.runtimeReserveBytes).toBe(fit.calibration.runtimeReserveBytes);
  }, 240_000);
});
