/**
 * Turns a downloaded repository into a model directory of our contract (gpu-worker/engine/README.md):
 * the three graphs under their contract names (hard links, so nothing is stored twice), tokenizer.json
 * (built from vocab.json + merges.txt when the repository has none), and config.json with the `qwen3_asr`
 * block the engine and the memory model need. What the graphs declare (hidden size, layers, KV heads, head
 * size, vocabulary) is read from their inputs and outputs; the rest comes from the published variant of that
 * size, or from `baseConfig` for any other model.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import { LANGUAGES } from "../../shared/languages.js";
import { modelConfigSchema } from "../../shared/model-config.js";
import { loadModelDirectory } from "../engine/model-dir.js";
import type { LayoutPlan } from "./layout.js";
import { QWEN3_MAX_FRAMES, QWEN3_MAX_SEQUENCE_LENGTH, variantForHiddenSize } from "./variants.js";

export interface AdaptOptions {
  /** A config.json of our contract whose `qwen3_asr` block supplies what the graphs do not say. */
  baseConfig?: { qwen3_asr?: Record<string, unknown>; max_sequence_length?: number; max_frames?: number };
  /** The quantization picked (weights stored as int8 inside the graphs). */
  quantization?: string;
  /** Where the files came from, recorded in source.json. */
  source?: Record<string, unknown>;
}

export class AdaptError extends Error {
  override name = "AdaptError";
}

function place(from: string, to: string): void {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to); // another filesystem
  }
}

interface GraphFacts {
  hidden: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number | null;
}

async function readGraphFacts(embedPath: string, decoderPath: string): Promise<GraphFacts> {
  const embed = await ort.InferenceSession.create(embedPath);
  const decoder = await ort.InferenceSession.create(decoderPath);
  try {
    const dim = (shape: readonly (number | string)[] | undefined, i: number): number | null => {
      const v = shape?.at(i);
      return typeof v === "number" && v > 0 ? v : null;
    };
    const tensorShape = (m: ort.InferenceSession.ValueMetadata | undefined) => (m && m.isTensor ? m.shape : undefined);
    const embedOut = embed.outputMetadata.find((m) => m.name === "inputs_embeds");
    const pasts = decoder.inputMetadata.filter((m) => /^past_key_values\.\d+\.key$/.test(m.name));
    const logits = decoder.outputMetadata.find((m) => m.name === "logits");
    const missing = ["inputs_embeds", "attn_bias", "position_ids"].filter((n) => !decoder.inputNames.includes(n));
    if (missing.length || pasts.length === 0 || !logits) {
      throw new AdaptError(`decoder graph does not follow the speech-llm contract (inputs ${decoder.inputNames.join(", ")}; outputs ${decoder.outputNames.join(", ")})`);
    }
    const hidden = dim(tensorShape(embedOut), -1) ?? dim(tensorShape(decoder.inputMetadata.find((m) => m.name === "inputs_embeds")), -1);
    const kvHeads = dim(tensorShape(pasts[0]), 1);
    const headDim = dim(tensorShape(pasts[0]), 3);
    if (!hidden || !kvHeads || !headDim) throw new AdaptError("the graphs do not declare a static hidden size, KV head count and head size");
    return { hidden, layers: pasts.length, kvHeads, headDim, vocab: dim(tensorShape(logits), -1) };
  } finally {
    await embed.release();
    await decoder.release();
  }
}

const SPECIAL = /^<\|.*\|>$|^<asr_text>$|^<\/?(s|unk|pad)>$/;
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** A byte-level BPE tokenizer.json (Qwen2's pre-tokenizer) from vocab.json and merges.txt. */
export function tokenizerFromVocab(vocab: Record<string, number>, merges: string[]): object {
  const special = Object.entries(vocab).filter(([t]) => SPECIAL.test(t));
  const model = Object.fromEntries(Object.entries(vocab).filter(([t]) => !SPECIAL.test(t)));
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special
      .sort((a, b) => a[1] - b[1])
      .map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "NFC" },
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { Regex: QWEN2_SPLIT }, behavior: "Isolated", invert: false }, byteLevel] },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: model, merges },
  };
}

function forcedLanguageSuffixes(tokenizerPath: string, hubConfig: Record<string, unknown>): Record<string, number[]> {
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(tokenizerPath, "utf8")) as object, {});
  const suffix = hubConfig.prompt_suffix_ids as number[];
  const textStart = hubConfig.text_start_token_id as number;
  return Object.fromEntries(
    LANGUAGES.map(([name]) => [name, [...suffix, ...tokenizer.encode(`language ${name}`, { add_special_tokens: false }).ids, textStart]]),
  );
}

export async function adaptModel(rawDir: string, outDir: string, plan: LayoutPlan, options: AdaptOptions = {}): Promise<{ warnings: string[] }> {
  const warnings: string[] = [];
  mkdirSync(outDir, { recursive: true });
  const names = { encoder: "encoder.onnx", embedTokens: "embed_tokens.onnx", decoder: "decoder.onnx" } as const;
  for (const [role, path] of Object.entries(plan.graphs) as [keyof typeof names, string][]) {
    place(join(rawDir, path), join(outDir, names[role]));
    // External weights keep their own names: the graph refers to them by file name.
    for (const data of plan.files.filter((f) => f !== path && f.startsWith(path))) {
      if (dirname(data) !== dirname(path)) continue;
      place(join(rawDir, data), join(outDir, basename(data)));
    }
  }

  const raw = (name: string) => join(rawDir, name);
  let merges: boolean | undefined; // false: the tokenizer had to be built without merges
  let vocab: Record<string, number> | null = existsSync(raw("vocab.json")) ? (JSON.parse(readFileSync(raw("vocab.json"), "utf8")) as Record<string, number>) : null;
  if (existsSync(raw("tokenizer.json"))) {
    place(raw("tokenizer.json"), join(outDir, "tokenizer.json"));
    if (!vocab) {
      const t = JSON.parse(readFileSync(raw("tokenizer.json"), "utf8")) as { model: { vocab: Record<string, number> }; added_tokens?: { id: number; content: string }[] };
      vocab = { ...t.model.vocab, ...Object.fromEntries((t.added_tokens ?? []).map((a) => [a.content, a.id])) };
    }
  } else if (vocab) {
    let mergeLines: string[] = [];
    if (existsSync(raw("merges.txt"))) {
      mergeLines = readFileSync(raw("merges.txt"), "utf8").split(/\r?\n/).filter((l) => l && !l.startsWith("#version"));
    } else {
      warnings.push("the repository has no merges.txt: text is decoded correctly, but a request's `prompt` context is encoded character by character");
      merges = false;
    }
    writeFileSync(join(outDir, "tokenizer.json"), JSON.stringify(tokenizerFromVocab(vocab, mergeLines)));
  }

  const hubConfig = JSON.parse(readFileSync(raw("config.json"), "utf8")) as Record<string, unknown>;
  if (hubConfig.qwen3_asr && existsSync(raw("tokenizer.json"))) {
    // Already our contract: the config says everything.
    place(raw("config.json"), join(outDir, "config.json"));
    writeFileSync(join(outDir, "source.json"), `${JSON.stringify({ ...options.source, layout: plan.layout, graphs: plan.graphs }, null, 1)}\n`);
    loadModelDirectory(outDir);
    return { warnings };
  }
  const facts = await readGraphFacts(join(outDir, names.embedTokens), join(outDir, names.decoder));
  const known = variantForHiddenSize(facts.hidden);
  const base = options.baseConfig?.qwen3_asr ?? (known as Record<string, unknown> | undefined);
  if (!base) {
    throw new AdaptError(`hidden size ${facts.hidden} is not a published Qwen3-ASR size (0.6B: 1024, 1.7B: 2048); pass --base-config with a config.json of our contract for this model`);
  }
  const id = (token: string, fallback: unknown) => vocab?.[token] ?? fallback;
  let suffixes = (hubConfig.language_suffix_ids ?? {}) as Record<string, number[]>;
  if (Object.keys(suffixes).length === 0 && existsSync(join(outDir, "tokenizer.json")) && merges !== false) {
    // No per-language suffixes (onnx-asr may put the language before the audio instead): build the official
    // ones, the suffix followed by "language X<asr_text>" (design/qwen3-asr-model.md §4).
    suffixes = forcedLanguageSuffixes(join(outDir, "tokenizer.json"), hubConfig);
  }
  const knownNames = new Set(LANGUAGES.map(([name]) => name));
  const declared = Object.keys(suffixes).filter((n) => knownNames.has(n));
  const qwen3_asr = {
    ...base,
    hidden_size: facts.hidden,
    num_hidden_layers: facts.layers,
    num_key_value_heads: facts.kvHeads,
    head_dim: facts.headDim,
    vocab_size: facts.vocab ?? base.vocab_size,
    audio_token_id: id("<|audio_pad|>", base.audio_token_id),
    audio_start_token_id: id("<|audio_start|>", base.audio_start_token_id),
    audio_end_token_id: id("<|audio_end|>", base.audio_end_token_id),
    io_dtype: "float32",
    weights_dtype: options.quantization === "int8" ? "int8" : "float32",
    supported_languages: declared.length > 0 ? declared : (base.supported_languages ?? []),
  };
  const config = {
    ...hubConfig,
    model_type: "speech-llm",
    // onnx-asr's max_sequence_length is its generation cap (512); ours is the context the engine checks against.
    max_sequence_length: options.baseConfig?.max_sequence_length ?? QWEN3_MAX_SEQUENCE_LENGTH,
    max_frames: options.baseConfig?.max_frames ?? QWEN3_MAX_FRAMES,
    language_suffix_ids: suffixes,
    qwen3_asr,
  };
  const parsed = modelConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new AdaptError(`the adapted config.json is not valid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  writeFileSync(join(outDir, "config.json"), `${JSON.stringify(config, null, 1)}\n`);
  writeFileSync(join(outDir, "source.json"), `${JSON.stringify({ ...options.source, layout: plan.layout, graphs: plan.graphs, adapted_at: new Date().toISOString() }, null, 1)}\n`);
  loadModelDirectory(outDir); // the engine's own check of the finished directory
  return { warnings };
}
