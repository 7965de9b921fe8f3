import type { ModelConfig } from "../../shared/model-config.js";
import { defaultCalibration, type Calibration, type CalibrationPoint } from "./calibration.js";
import { estimateBatchBytes, type Decoding, type MemoryDtypes } from "./memory-model.js";

/** Smallest coefficient written: the schema wants positive multipliers. */
const MIN_COEFFICIENT = 0.05;

export interface FittedPoint extends CalibrationPoint {
  predictedBytes: number;
  relativeError: number;
}

export interface CalibrationFit {
  calibration: Calibration;
  points: FittedPoint[];
  maxRelativeError: number;
}

/**
 * Fits the memory model to measured peaks: measured ≈ weights + reserve + c × (modelled activations), by least
 * squares on relative error over the points (reserve and c), c shared by every activation term so that two
 * numbers explain all shapes without overfitting. Pure: the caller measures.
 */
export function fitCalibration(
  config: ModelConfig,
  dtypes: MemoryDtypes,
  measured: CalibrationPoint[],
  meta: { device: string; measuredAt: string },
  /** The loop the measured engine ran (Qwen3AsrEngine.decoding): it decides how the cache was held. */
  decoding: Decoding = "host",
): CalibrationFit {
  if (measured.length === 0) throw new RangeError("calibration needs at least one measured point");
  const raw = { ...defaultCalibration, runtimeReserveBytes: 0 };
  const modelled = measured.map((p) => {
    const b = estimateBatchBytes(
      config,
      dtypes,
      p.frames.map((frames, i) => ({ frames, maxNewTokens: p.maxNewTokens?.[i] })),
      { encoderSlicesPerCall: p.encoderSlicesPerCall, calibration: raw, decoding },
    );
    return { weights: b.weights, activations: b.total - b.weights };
  });
  const xs = modelled.map((m) => m.activations);
  const ys = measured.map((p, i) => p.measuredPeakBytes - modelled[i].weights);
  // Weighted by 1/measured², so the fit minimises relative error: small batches count as much as large ones.
  const ws = measured.map((p) => 1 / p.measuredPeakBytes ** 2);
  const sw = ws.reduce((a, b) => a + b, 0);
  const meanX = xs.reduce((a, x, i) => a + ws[i] * x, 0) / sw;
  const meanY = ys.reduce((a, y, i) => a + ws[i] * y, 0) / sw;
  const varX = xs.reduce((a, x, i) => a + ws[i] * (x - meanX) ** 2, 0);
  const covXY = xs.reduce((a, x, i) => a + ws[i] * (x - meanX) * (ys[i] - meanY), 0);
  let c = varX > 0 ? covXY / varX : 1;
  if (!(c >= MIN_COEFFICIENT)) c = MIN_COEFFICIENT;
  const reserve = Math.max(0, Math.round(meanY - c * meanX));
  const calibration: Calibration = {
    version: 1,
    device: meta.device,
    modelVariant: config.qwen3_asr.variant,
    weightsDtype: dtypes.weights,
    ioDtype: dtypes.io,
    measuredAt: meta.measuredAt,
    runtimeReserveBytes: reserve,
    coefficients: { weights: 1, kvCache: c, encoderActivations: c, prefillActivations: c, logits: c, ioBuffers: c },
    points: measured,
  };
  const points = measured.map((p) => {
    const predictedBytes = estimateBatchBytes(
      config,
      dtypes,
      p.frames.map((frames, i) => ({ frames, maxNewTokens: p.maxNewTokens?.[i] })),
      { encoderSlicesPerCall: p.encoderSlicesPerCall, calibration, decoding },
    ).total;
    return { ...p, predictedBytes, relativeError: Math.abs(predictedBytes - p.measuredPeakBytes) / p.measuredPeakBytes };
  });
  return { calibration, points, maxRelativeError: Math.max(...points.map((p) => p.relativeError)) };
}
