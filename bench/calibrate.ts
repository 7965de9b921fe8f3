/**
 * npm run calibrate [-- MODEL_DIR]: measures the engine's peak memory at several batch shapes (each in a fresh
 * process: peak RSS on CPU, which includes onnxruntime's arena), fits the memory model's runtime reserve and
 * activation coefficient, prints model vs measurement per shape, and writes MODEL_DIR/calibration.json, which
 * the worker's planner reads.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadModelDirectory } from "../gpu-worker/engine/model-dir.js";
import type { CalibrationPoint } from "../gpu-worker/scheduler/calibration.js";
import { fitCalibration, type CalibrationFit } from "../gpu-worker/scheduler/calibration-fit.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface Shape {
  seconds: number[];
  maxNewTokens: number[];
  encoderSlicesPerCall: number;
}

/** Batch shapes from small to large: batch size, clip length and generation bound all vary. */
export const DEFAULT_SHAPES: Shape[] = [
  { seconds: [5], maxNewTokens: [16], encoderSlicesPerCall: 1 },
  { seconds: [30], maxNewTokens: [64], encoderSlicesPerCall: 1 },
  { seconds: [30, 30, 30, 30], maxNewTokens: [64, 64, 64, 64], encoderSlicesPerCall: 1 },
  { seconds: Array(8).fill(30), maxNewTokens: Array(8).fill(96), encoderSlicesPerCall: 4 },
  { seconds: Array(16).fill(30), maxNewTokens: Array(16).fill(64), encoderSlicesPerCall: 8 },
  { seconds: Array(12).fill(10), maxNewTokens: Array(12).fill(32), encoderSlicesPerCall: 2 },
];

export async function measureShape(modelDir: string, shape: Shape): Promise<CalibrationPoint> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", join(ROOT, "dev", "measure-batch.ts"), modelDir, JSON.stringify(shape)], {
    cwd: ROOT,
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split("\n").at(-1) as string) as { frames: number[]; peakBytes: number };
  return { frames: result.frames, maxNewTokens: shape.maxNewTokens, encoderSlicesPerCall: shape.encoderSlicesPerCall, measuredPeakBytes: result.peakBytes };
}

export async function calibrate(modelDir: string, shapes: Shape[] = DEFAULT_SHAPES): Promise<CalibrationFit> {
  const model = loadModelDirectory(modelDir);
  const points: CalibrationPoint[] = [];
  for (const shape of shapes) points.push(await measureShape(modelDir, shape));
  const q = model.config.qwen3_asr;
  // The engine decodes with generate.onnx when the directory has one (dev/measure-batch.ts loads it so).
  const decoding = model.files.generate ? "graph" : "host";
  return fitCalibration(
    model.config,
    { weights: q.weights_dtype, io: q.io_dtype },
    points,
    { device: `CPU (${cpus()[0]?.model ?? "unknown"}), onnxruntime-node CPU provider (${decoding} decoding loop), peak RSS`, measuredAt: new Date().toISOString() },
    decoding,
  );
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const modelDir = process.argv[2] ?? join(ROOT, "models", "qwen3-asr-synth-en");
  const fit = await calibrate(modelDir);
  console.log(`calibration of ${modelDir}`);
  console.log(`runtime reserve ${mib(fit.calibration.runtimeReserveBytes)}, activation coefficient ${fit.calibration.coefficients.kvCache.toFixed(3)}\n`);
  console.log("batch  seconds  max new  slices/call   measured  predicted  error");
  for (const p of fit.points) {
    console.log(
      `${String(p.frames.length).padStart(5)}  ${String(Math.round(p.frames[0] / 100)).padStart(7)}  ${String(p.maxNewTokens?.[0] ?? "").padStart(7)}  ${String(p.encoderSlicesPerCall).padStart(11)}  ${mib(p.measuredPeakBytes).padStart(9)}  ${mib(p.predictedBytes).padStart(9)}  ${(p.relativeError * 100).toFixed(1).padStart(4)} %`,
    );
  }
  console.log(`\nlargest error ${(fit.maxRelativeError * 100).toFixed(1)} % (target ≤ 15 % on CPU)`);
  writeFileSync(join(modelDir, "calibration.json"), JSON.stringify(fit.calibration, null, 1) + "\n");
  console.log(`wrote ${join(modelDir, "calibration.json")}`);
}
