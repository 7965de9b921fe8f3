import { existsSync, readFileSync } from "node:fs";
import type { ModelConfig } from "../../shared/model-config.js";
import { calibrationSchema, defaultCalibration, type Calibration } from "./calibration.js";

/** The planner's calibration: the given file, else `calibration.json` next to the model, else the defaults. */
export function loadCalibration(path: string | undefined, _model: ModelConfig, modelDir?: string): Calibration {
  const candidates = [path, modelDir ? `${modelDir}/calibration.json` : undefined].filter((p): p is string => Boolean(p));
  for (const candidate of candidates) {
    if (existsSync(candidate)) return calibrationSchema.parse(JSON.parse(readFileSync(candidate, "utf8")));
  }
  if (path) throw new Error(`calibration file ${path} does not exist`);
  return defaultCalibration;
}
