import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { modelConfigSchema, type ModelConfig } from "../../shared/model-config.js";
import { EngineError } from "./errors.js";

export const MODEL_FILES = {
  encoder: "encoder.onnx",
  embedTokens: "embed_tokens.onnx",
  decoder: "decoder.onnx",
  config: "config.json",
  tokenizer: "tokenizer.json",
} as const;

/** Optional: prefill and the greedy loop in one graph (tools/make_generate_graph.py). */
export const GENERATE_FILE = "generate.onnx";

export interface ModelDirectory {
  path: string;
  config: ModelConfig;
  tokenizerJson: object;
  files: { encoder: string; embedTokens: string; decoder: string; generate?: string };
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    const code = what === "tokenizer.json" ? "invalid_tokenizer" : "invalid_model_config";
    throw new EngineError(code, `${path}: ${what} is not valid JSON (${(cause as Error).message})`, { cause });
  }
}

/** Checks that the directory holds every file of the contract and that config.json is self-consistent. */
export function loadModelDirectory(dir: string): ModelDirectory {
  const path = resolve(dir);
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new EngineError("model_dir_missing", `model directory ${path} does not exist`);
  }
  for (const name of Object.values(MODEL_FILES)) {
    if (!existsSync(join(path, name))) {
      throw new EngineError("model_file_missing", `model directory ${path} lacks ${name}`);
    }
  }
  const parsed = modelConfigSchema.safeParse(readJson(join(path, MODEL_FILES.config), "config.json"));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new EngineError("invalid_model_config", `${join(path, MODEL_FILES.config)} is invalid: ${issues}`);
  }
  const tokenizerJson = readJson(join(path, MODEL_FILES.tokenizer), "tokenizer.json");
  if (typeof tokenizerJson !== "object" || tokenizerJson === null || !("model" in tokenizerJson)) {
    throw new EngineError("invalid_tokenizer", `${join(path, MODEL_FILES.tokenizer)} has no "model" section`);
  }
  return {
    path,
    config: parsed.data,
    tokenizerJson,
    files: {
      encoder: join(path, MODEL_FILES.encoder),
      embedTokens: join(path, MODEL_FILES.embedTokens),
      decoder: join(path, MODEL_FILES.decoder),
      ...(existsSync(join(path, GENERATE_FILE)) ? { generate: join(path, GENERATE_FILE) } : {}),
    },
  };
}
