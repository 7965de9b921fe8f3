import * as ort from "onnxruntime-node";
import { EngineError } from "./errors.js";
import { poolSessionOptions, type MemoryPoolOptions } from "./memory-pool.js";
import type { ModelDirectory } from "./model-dir.js";

export type ExecutionProvider = "cpu" | "cuda";

export interface SessionOptions {
  executionProvider?: ExecutionProvider;
  /** CUDA device ordinal. */
  deviceId?: number;
  /** Threads per CPU operator; defaults to onnxruntime's choice. */
  intraOpThreads?: number;
  /**
   * onnxruntime graph optimisations (default "all"). At "all", int8 weight graphs get fused integer kernels that
   * also quantize activations on the fly; "basic" keeps the graph's exact dequantize-then-float semantics.
   */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** Arena and memory-pattern settings (memory.pool in the service config); unset: onnxruntime's defaults. */
  pool?: MemoryPoolOptions;
}

export interface ModelSessions {
  encoder: ort.InferenceSession;
  embedTokens: ort.InferenceSession;
  decoder: ort.InferenceSession;
}

async function openSession(file: string, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, options);
  } catch (cause) {
    throw new EngineError("invalid_model_graph", `${file} cannot be loaded by onnxruntime: ${(cause as Error).message}`, { cause });
  }
}

type Dim = number | string;

function metadataOf(session: ort.InferenceSession, kind: "input" | "output"): Map<string, { type: string; shape: Dim[] }> {
  const list = kind === "input" ? session.inputMetadata : session.outputMetadata;
  const map = new Map<string, { type: string; shape: Dim[] }>();
  for (const meta of list) {
    if (meta.isTensor) map.set(meta.name, { type: meta.type, shape: [...meta.shape] });
  }
  return map;
}

/** Fails with a message naming the graph, the tensor and the config field when the two disagree. */
function expectTensor(
  file: string,
  meta: Map<string, { type: string; shape: Dim[] }>,
  name: string,
  type: string,
  shape: (number | null)[],
  configField: string,
): void {
  const found = meta.get(name);
  if (!found) throw new EngineError("invalid_model_graph", `${file} has no tensor named ${name}`);
  if (found.type !== type) throw new EngineError("invalid_model_graph", `${file}: ${name} is ${found.type}, the contract says ${type}`);
  if (found.shape.length !== shape.length) {
    throw new EngineError("invalid_model_graph", `${file}: ${name} has rank ${found.shape.length}, expected ${shape.length}`);
  }
  shape.forEach((want, axis) => {
    const have = found.shape[axis];
    if (want !== null && typeof have === "number" && have !== want) {
      throw new EngineError(
        "invalid_model_graph",
        `${file}: ${name} has ${have} on axis ${axis} but config.json says ${configField} = ${want}`,
      );
    }
  });
}

export function validateGraphs(dir: ModelDirectory, sessions: ModelSessions): void {
  const q = dir.config.qwen3_asr;
  const { encoder, embedTokens, decoder } = dir.files;
  const encIn = metadataOf(sessions.encoder, "input");
  const encOut = metadataOf(sessions.encoder, "output");
  expectTensor(encoder, encIn, "input_features", "float32", [1, q.n_mels, null], "n_mels");
  expectTensor(encoder, encIn, "valid_indices", "int64", [null], "");
  expectTensor(encoder, encIn, "attn_bias", "float32", [1, 1, null, null], "");
  expectTensor(encoder, encOut, "audio_embeds", "float32", [1, null, q.hidden_size], "hidden_size");

  expectTensor(embedTokens, metadataOf(sessions.embedTokens, "input"), "input_ids", "int64", [null, null], "");
  expectTensor(embedTokens, metadataOf(sessions.embedTokens, "output"), "inputs_embeds", "float32", [null, null, q.hidden_size], "hidden_size");

  const decIn = metadataOf(sessions.decoder, "input");
  const decOut = metadataOf(sessions.decoder, "output");
  expectTensor(decoder, decIn, "inputs_embeds", "float32", [null, null, q.hidden_size], "hidden_size");
  expectTensor(decoder, decIn, "attn_bias", "float32", [null, 1, null, null], "");
  expectTensor(decoder, decIn, "position_ids", "int64", [null, null], "");
  expectTensor(decoder, decOut, "logits", "float32", [null, null, q.vocab_size], "vocab_size");
  const pastInputs = [...decIn.keys()].filter((n) => n.startsWith("past_key_values.")).length;
  if (pastInputs !== 2 * q.num_hidden_layers) {
    throw new EngineError(
      "invalid_model_graph",
      `${decoder} has ${pastInputs / 2} layers of past_key_values but config.json says num_hidden_layers = ${q.num_hidden_layers}`,
    );
  }
  for (let i = 0; i < q.num_hidden_layers; i++) {
    for (const kind of ["key", "value"]) {
      expectTensor(decoder, decIn, `past_key_values.${i}.${kind}`, "float32", [null, q.num_key_value_heads, null, q.head_dim], "num_key_value_heads/head_dim");
      expectTensor(decoder, decOut, `present.${i}.${kind}`, "float32", [null, q.num_key_value_heads, null, q.head_dim], "num_key_value_heads/head_dim");
    }
  }
}

/**
 * On CUDA the decoder's `present` caches stay on the device ("gpu-buffer") and go straight back in as the next
 * step's `past`: without this every decode step would copy the whole KV cache to the host and back.
 */
function decoderOutputLocation(dir: ModelDirectory, options: SessionOptions): Pick<ort.InferenceSession.SessionOptions, "preferredOutputLocation"> {
  if (options.executionProvider !== "cuda") return {};
  const locations: Record<string, "cpu" | "gpu-buffer"> = { logits: "cpu" };
  for (let i = 0; i < dir.config.qwen3_asr.num_hidden_layers; i++) {
    locations[`present.${i}.key`] = "gpu-buffer";
    locations[`present.${i}.value`] = "gpu-buffer";
  }
  return { preferredOutputLocation: locations };
}

export async function openModelSessions(dir: ModelDirectory, options: SessionOptions = {}): Promise<ModelSessions> {
  const provider: ort.InferenceSession.ExecutionProviderConfig =
    options.executionProvider === "cuda" ? { name: "cuda", deviceId: options.deviceId ?? 0 } : "cpu";
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimizationLevel ?? "all",
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...poolSessionOptions(options.pool),
  };
  // The embedding table stays on the host: on a GPU it would take vocab × hidden of the memory budget.
  const [encoder, embedTokens, decoder] = await Promise.all([
    openSession(dir.files.encoder, { ...base, executionProviders: [provider] }),
    openSession(dir.files.embedTokens, { ...base, executionProviders: ["cpu"] }),
    openSession(dir.files.decoder, { ...base, executionProviders: [provider], ...decoderOutputLocation(dir, options) }),
  ]);
  const sessions = { encoder, embedTokens, decoder };
  try {
    validateGraphs(dir, sessions);
  } catch (error) {
    await Promise.all([encoder.release(), embedTokens.release(), decoder.release()]);
    throw error;
  }
  return sessions;
}

