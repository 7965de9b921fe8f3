import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { modelConfigSchema } from "../../shared/model-config.js";
import { calibrationMismatch, calibrationSchema, defaultCalibration } from "../../gpu-worker/scheduler/calibration.js";

const model = modelConfigSchema.parse(
  JSON.parse(readFileSync(new URL("../fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")),
);

const measured = {
  version: 1,
  device: "NVIDIA H100 80GB HBM3, onnxruntime-node 1.30",
  modelVariant: "qwen3-asr-1.7b",
  weightsDtype: "bfloat16",
  ioDtype: "float16",
  measuredAt: "2025-06-01",
  runtimeReserveBytes: 350_000_000,
  coefficients: { weights: 1.01, kvCache: 1.05, encoderActivations: 0.8, prefillActivations: 0.6, logits: 1, ioBuffers: 1 },
  points: [{ frames: [3000, 3000], encoderSlicesPerCall: 2, measuredPeakBytes: 4_700_000_000 }],
};

describe("calibration file", () => {
  it("accepts the default and a measured file", () => {
    expect(calibrationSchema.parse(defaultCalibration)).toEqual(defaultCalibration);
    expect(calibrationSchema.parse(measured).coefficients.prefillActivations).toBe(0.6);
  });

  it("rejects a measured file without its points, and non-positive coefficients", () => {
    expect(calibrationSchema.safeParse({ ...measured, points: [] }).error?.issues[0]?.message).toMatch(/measured points/);
    const zero = { ...measured, coefficients: { ...measured.coefficients, kvCache: 0 } };
    expect(calibrationSchema.safeParse(zero).success).toBe(false);
    expect(calibrationSchema.safeParse({ ...measured, measuredAt: "yesterday" }).success).toBe(false);
  });

  it("says when a calibration belongs to another model or dtype", () => {
    const file = calibrationSchema.parse(measured);
    expect(calibrationMismatch(defaultCalibration, model, { weights: "int8", io: "float32" })).toBeNull();
    expect(calibrationMismatch(file, model, { weights: "bfloat16", io: "float16" })).toBeNull();
    expect(calibrationMismatch(file, model, { weights: "int8", io: "float16" })).toMatch(/bfloat16 weights, engine runs int8/);
    expect(calibrationMismatch({ ...file, modelVariant: "qwen3-asr-0.6b" }, model, { weights: "bfloat16", io: "float16" })).toMatch(
      /measured qwen3-asr-0.6b/,
    );
  });
});
