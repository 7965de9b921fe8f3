import { z } from "zod";
import { weightsDtypeSchema, type ModelConfig, type WeightsDtype } from "../../shared/model-config.js";

/**
 * Fitted corrections for the memory model (memory-model.ts), measured on one device with one model variant.
 * Pure data: reading and fitting the file belong to whoever measures; the model only applies it.
 *
 * Every byte figure counts the same budget as the memory model: the process's device memory as the driver
 * reports it (NVML / nvidia-smi per-process "used"), i.e. what the onnxruntime arenas hold plus what they do
 * not see (CUDA context, cuBLAS/cuDNN handles), which `runtimeReserveBytes` carries.
 */

const nonNegativeInt = z.number().int().nonnegative();

/** Multipliers on the modelled terms: measured ÷ modelled, so 1 means "the model as written". */
export const termCoefficientsSchema = z.object({
  weights: z.number().positive(),
  kvCache: z.number().positive(),
  encoderActivations: z.number().positive(),
  prefillActivations: z.number().positive(),
  logits: z.number().positive(),
  ioBuffers: z.number().positive(),
});
export type TermCoefficients = z.infer<typeof termCoefficientsSchema>;

/** One measured batch: what was run and the peak it reached, so a later fit can recompute the modelled terms. */
export const calibrationPointSchema = z.object({
  frames: z.array(nonNegativeInt).min(1),
  maxNewTokens: z.array(nonNegativeInt).optional(),
  encoderSlicesPerCall: z.number().int().positive(),
  measuredPeakBytes: nonNegativeInt,
});
export type CalibrationPoint = z.infer<typeof calibrationPointSchema>;

export const calibrationSchema = z
  .object({
    version: z.literal(1),
    /** e.g. "NVIDIA H100 80GB HBM3, driver 550.54, CUDA 12.4, onnxruntime-node 1.30". */
    device: z.string().min(1),
    /** config.json `qwen3_asr.variant`, or "any" for the uncalibrated default. */
    modelVariant: z.string().min(1),
    /** The dtypes measured; absent for the uncalibrated default. */
    weightsDtype: weightsDtypeSchema.optional(),
    ioDtype: z.enum(["float32", "float16"]).optional(),
    /** ISO date of the measurement; null for the uncalibrated default. */
    measuredAt: z.union([z.iso.date(), z.iso.datetime()]).nullable(),
    /** Fixed cost outside the modelled tensors: CUDA context, library workspaces, arena slack. */
    runtimeReserveBytes: nonNegativeInt,
    coefficients: termCoefficientsSchema,
    points: z.array(calibrationPointSchema),
  })
  .superRefine((c, ctx) => {
    if (c.measuredAt !== null && c.points.length === 0) {
      ctx.addIssue({ code: "custom", message: "a measured calibration must list its measured points", path: ["points"] });
    }
  });
export type Calibration = z.infer<typeof calibrationSchema>;

/**
 * Used until a device is measured. The reserve is a guess on the safe side for onnxruntime's CUDA provider
 * on an H100 with lazy module loading: CUDA context ≈ 0.3 GB, cuBLAS/cuDNN handles and workspaces, and arena
 * rounding. Coefficients of 1 take the paper model at its word.
 */
export const defaultCalibration: Calibration = {
  version: 1,
  device: "uncalibrated default",
  modelVariant: "any",
  measuredAt: null,
  runtimeReserveBytes: 384 * 2 ** 20,
  coefficients: { weights: 1, kvCache: 1, encoderActivations: 1, prefillActivations: 1, logits: 1, ioBuffers: 1 },
  points: [],
};

/** Why `calibration` should not be applied to this model and these dtypes, or null when it fits. */
export function calibrationMismatch(
  calibration: Calibration,
  config: ModelConfig,
  dtypes: { weights: WeightsDtype; io: "float32" | "float16" },
): string | null {
  const { modelVariant, weightsDtype, ioDtype } = calibration;
  if (modelVariant !== "any" && modelVariant !== config.qwen3_asr.variant) {
    return `calibration measured ${modelVariant}, model is ${config.qwen3_asr.variant}`;
  }
  if (weightsDtype !== undefined && weightsDtype !== dtypes.weights) {
    return `calibration measured ${weightsDtype} weights, engine runs ${dtypes.weights}`;
  }
  if (ioDtype !== undefined && ioDtype !== dtypes.io) return `calibration measured ${ioDtype} I/O, engine runs ${dtypes.io}`;
  return null;
}
