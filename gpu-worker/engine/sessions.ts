import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { EngineError } from "./errors.js";
import { poolSessionOptions, type MemoryPoolOptions } from "./memory-pool.js";
import type { ModelDirectory } from "./model-dir.js";
import { graphDtypes } from "./tensor-dtype.js";

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
  /**
   * Where the greedy loop runs. "graph" (the default when the model directory has generate.onnx): one
   * onnxruntime run per batch, the KV cache never leaves the execution provider. "host": decoder.onnx driven
   * step by step from JavaScript (models without generate.onnx, and the reference the graph is tested against).
   */
  decoding?: "graph" | "host";
  /**
   * Write onnxruntime's optimised graphs here (`encoder.optimized.onnx`, …): what a session really holds after
   * constant folding and layout changes. For inspection and the precision tests; costs a write per load.
   */
  optimizedModelDir?: string;
  /** Arena and memory-pattern settings (memory.pool in the service config); unset: onnxruntime's defaults. */
  pool?: MemoryPoolOptions;
}

/** generate.onnx ("graph": the greedy loop inside onnxruntime) or decoder.onnx ("host": driven from JS). */
export interface DecoderSession {
  kind: "graph" | "host";
  session: ort.InferenceSession;
}

export interface ModelSessions {
  encoder: ort.InferenceSession;
  embedTokens: ort.InferenceSession;
  /** Only one of decoder.onnx / generate.onnx is loaded: both hold the decoder's weights. */
  decoder: DecoderSession;
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

/** Checks every graph tensor against config.json: names, ranks, dims, and the dtypes `io_dtype`/`kv_dtype` name. */
export function validateGraphs(dir: ModelDirectory, sessions: ModelSessions): void {
  const q = dir.config.qwen3_asr;
  const { io, kv } = graphDtypes(dir.config);
  const { encoder, embedTokens, decoder } = dir.files;
  const encIn = metadataOf(sessions.encoder, "input");
  const encOut = metadataOf(sessions.encoder, "output");
  expectTensor(encoder, encIn, "input_features", io, [1, q.n_mels, null], "n_mels");
  expectTensor(encoder, encIn, "valid_indices", "int64", [null], "");
  expectTensor(encoder, encIn, "attn_bias", io, [1, 1, null, null], "");
  expectTensor(encoder, encOut, "audio_embeds", io, [1, null, q.hidden_size], "hidden_size");

  expectTensor(embedTokens, metadataOf(sessions.embedTokens, "input"), "input_ids", "int64", [null, null], "");
  expectTensor(embedTokens, metadataOf(sessions.embedTokens, "output"), "inputs_embeds", io, [null, null, q.hidden_size], "hidden_size");

  if (sessions.decoder.kind === "graph") {
    validateGenerateGraph(dir, sessions.decoder.session, io);
    return;
  }
  const decIn = metadataOf(sessions.decoder.session, "input");
  const decOut = metadataOf(sessions.decoder.session, "output");
  expectTensor(decoder, decIn, "inputs_embeds", io, [null, null, q.hidden_size], "hidden_size");
  expectTensor(decoder, decIn, "attn_bias", io, [null, 1, null, null], "");
  expectTensor(decoder, decIn, "position_ids", "int64", [null, null], "");
  expectTensor(decoder, decOut, "logits", io, [null, null, q.vocab_size], "vocab_size");
  const pastInputs = [...decIn.keys()].filter((n) => n.startsWith("past_key_values.")).length;
  if (pastInputs !== 2 * q.num_hidden_layers) {
    throw new EngineError(
      "invalid_model_graph",
      `${decoder} has ${pastInputs / 2} layers of past_key_values but config.json says num_hidden_layers = ${q.num_hidden_layers}`,
    );
  }
  for (let i = 0; i < q.num_hidden_layers; i++) {
    for (const kind of ["key", "value"]) {
      expectTensor(decoder, decIn, `past_key_values.${i}.${kind}`, kv, [null, q.num_key_value_heads, null, q.head_dim], "num_key_value_heads/head_dim");
      expectTensor(decoder, decOut, `present.${i}.${kind}`, kv, [null, q.num_key_value_heads, null, q.head_dim], "num_key_value_heads/head_dim");
    }
  }
}

function validateGenerateGraph(dir: ModelDirectory, session: ort.InferenceSession, io: string): void {
  const file = dir.files.generate ?? "generate.onnx";
  const q = dir.config.qwen3_asr;
  const input = metadataOf(session, "input");
  const output = metadataOf(session, "output");
  expectTensor(file, input, "inputs_embeds", io, [null, null, q.hidden_size], "hidden_size");
  expectTensor(file, input, "attn_bias", io, [null, 1, null, null], "");
  expectTensor(file, input, "position_ids", "int64", [null, null], "");
  expectTensor(file, input, "max_new_tokens", "int64", [null], "");
  expectTensor(file, input, "eos_token_ids", "int64", [null], "");
  expectTensor(file, input, "watch_token_ids", "int64", [null], "");
  expectTensor(file, output, "watch_logprobs", "float32", [null, null, null], "");
  expectTensor(file, output, "tokens", "int64", [null, null], "");
  expectTensor(file, output, "token_logprobs", "float32", [null, null], "");
}

/** The onnxruntime options of each graph's session (pure: what `openModelSessions` passes). */
export function sessionOptionsFor(
  dir: ModelDirectory,
  options: SessionOptions = {},
): Record<"encoder" | "embedTokens" | "decoder" | "generate", ort.InferenceSession.SessionOptions> {
  const cuda = options.executionProvider === "cuda";
  // onnxruntime-node 1.30 passes only deviceId to the CUDA provider (js/node/src/session_options_helper.cc):
  // gpu_mem_limit and arena_extend_strategy cannot be set from Node. What can be set is a session config entry:
  // weights are allocated exactly (outside the BFC arena, which rounds growth up), so the arena holds only
  // activations and the KV cache that the memory model budgets.
  const provider: ort.InferenceSession.ExecutionProviderConfig = cuda ? { name: "cuda", deviceId: options.deviceId ?? 0 } : "cpu";
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimizationLevel ?? "all",
    ...poolSessionOptions(options.pool),
    // Errors only: the optimiser warns about every weight it cannot de-duplicate across the Loop's scopes.
    logSeverityLevel: 3,
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(cuda ? { extra: { session: { use_device_allocator_for_initializers: "1" } } } : {}),
  };
  const optimized = (name: string): Pick<ort.InferenceSession.SessionOptions, "optimizedModelFilePath"> =>
    options.optimizedModelDir ? { optimizedModelFilePath: join(options.optimizedModelDir, `${name}.optimized.onnx`) } : {};
  return {
    encoder: { ...base, executionProviders: [provider], ...optimized("encoder") },
    // The embedding table stays on the host: on a GPU it would take vocab × hidden of the memory budget.
    embedTokens: { ...base, executionProviders: ["cpu"], ...optimized("embed_tokens") },
    decoder: { ...base, executionProviders: [provider], ...optimized("decoder") },
    generate: { ...base, executionProviders: [provider], ...optimized("generate") },
  };
}

export async function openModelSessions(dir: ModelDirectory, options: SessionOptions = {}): Promise<ModelSessions> {
  const opts = sessionOptionsFor(dir, options);
  const useGraph = dir.files.generate !== undefined && options.decoding !== "host";
  if (options.decoding === "graph" && !useGraph) {
    throw new EngineError("model_file_missing", `model directory ${dir.path} lacks generate.onnx (tools/make_generate_graph.py writes it)`);
  }
  const [encoder, embedTokens, decoderSession] = await Promise.all([
    openSession(dir.files.encoder, opts.encoder),
    openSession(dir.files.embedTokens, opts.embedTokens),
    useGraph ? openSession(dir.files.generate as string, opts.generate) : openSession(dir.files.decoder, opts.decoder),
  ]);
  const decoder: DecoderSession = { kind: useGraph ? "graph" : "host", session: decoderSession };
  const sessions = { encoder, embedTokens, decoder };
  try {
    validateGraphs(dir, sessions);
  } catch (error) {
    await Promise.all([encoder.release(), embedTokens.release(), decoderSession.release()]);
    throw error;
  }
  return sessions;
}
