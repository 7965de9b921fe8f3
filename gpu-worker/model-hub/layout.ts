/**
 * Which public layout a Hub repository is in, and which of its files our engine needs. Pure: works on the
 * file list before anything is downloaded.
 *
 * - `contract`: our own layout (gpu-worker/engine/README.md) at the repository root.
 * - `speech-llm`: onnx-asr's layout (OpenVoiceOS qwen3-asr-*-onnx): encoder / embed_tokens / decoder graphs
 *   anywhere in the tree (`**\/encoder.onnx`, quantized ones as `encoder?int8.onnx`), vocab.json (+ merges.txt).
 * - `split-decoder`: andrewleech/qwen3-asr-*-onnx (decoder_init + decoder_step with stacked KV, embed_tokens.bin).
 *   Recognised so that the refusal can say why; the engine cannot run it.
 */
import { posix } from "node:path";

export type HubLayout = "contract" | "speech-llm" | "split-decoder";

export interface LayoutPlan {
  layout: HubLayout;
  /** Repository paths of the three graphs. */
  graphs: { encoder: string; embedTokens: string; decoder: string };
  /** Every file to download: graphs, their external weights, config and tokenizer files. */
  files: string[];
}

export class LayoutError extends Error {
  override name = "LayoutError";
}

const TOKENIZER_FILES = ["config.json", "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "added_tokens.json", "generation_config.json"];

function graph(paths: readonly string[], name: string, quantization: string | undefined): string | undefined {
  const pattern = quantization ? new RegExp(`(^|/)${name}[._-]${quantization}\\.onnx$`) : new RegExp(`(^|/)${name}\\.onnx$`);
  // The shallowest match: a repo may keep older exports in subfolders.
  return paths.filter((p) => pattern.test(p)).sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b))[0];
}

/** Weights stored next to a graph: `decoder.onnx.data`, `decoder.onnx_data`, `decoder.onnx.data_0` … */
function externalData(paths: readonly string[], graphPath: string): string[] {
  return paths.filter((p) => p !== graphPath && p.startsWith(graphPath) && /^[._]data/.test(p.slice(graphPath.length)));
}

export function planLayout(paths: readonly string[], quantization?: string): LayoutPlan {
  const has = (p: string) => paths.includes(p);
  if (paths.some((p) => /(^|\/)decoder_init\.onnx$/.test(p)) && paths.some((p) => /(^|\/)decoder_step\.onnx$/.test(p))) {
    throw new LayoutError(
      "this repository uses the split-decoder layout (decoder_init.onnx + decoder_step.onnx with stacked KV, as in andrewleech/qwen3-asr-*-onnx), which this engine cannot run yet; pull an onnx-asr speech-llm export such as OpenVoiceOS/qwen3-asr-0.6b-onnx",
    );
  }
  const encoder = graph(paths, "encoder", quantization);
  const embedTokens = graph(paths, "embed_tokens", quantization) ?? (quantization ? graph(paths, "embed_tokens", undefined) : undefined);
  const decoder = graph(paths, "decoder", quantization);
  if (!encoder || !embedTokens || !decoder) {
    const what = quantization ? ` (quantization ${quantization})` : "";
    const onnx = paths.filter((p) => p.endsWith(".onnx"));
    throw new LayoutError(`no encoder, embed_tokens and decoder graphs${what} found; the repository has ${onnx.length ? onnx.join(", ") : "no .onnx files"}`);
  }
  if (!has("config.json")) throw new LayoutError("the repository has no config.json at its root");
  const graphs = { encoder, embedTokens, decoder };
  const layout: HubLayout = encoder === "encoder.onnx" && decoder === "decoder.onnx" && embedTokens === "embed_tokens.onnx" && has("tokenizer.json") && !has("vocab.json") ? "contract" : "speech-llm";
  if (layout === "speech-llm" && !has("vocab.json") && !has("tokenizer.json")) {
    throw new LayoutError("the repository has neither vocab.json nor tokenizer.json: its token ids cannot be read");
  }
  const files = new Set<string>();
  for (const g of Object.values(graphs)) {
    files.add(g);
    for (const d of externalData(paths, g)) files.add(d);
  }
  for (const name of TOKENIZER_FILES) if (has(name)) files.add(name);
  return { layout, graphs, files: [...files].sort() };
}

export const baseName = (p: string): string => posix.basename(p);
