import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Qwen3AsrEngine } from "../../gpu-worker/engine/engine.js";

const source = fileURLToPath(new URL("../fixtures/models/tiny-random", import.meta.url));
const dirs: string[] = [];
function copyModel(): string {
  const dir = mkdtempSync(join(tmpdir(), "asr-model-"));
  dirs.push(dir);
  cpSync(source, dir, { recursive: true });
  return dir;
}
function editConfig(dir: string, edit: (config: Record<string, any>) => void): void {
  const path = join(dir, "config.json");
  const config = JSON.parse(readFileSync(path, "utf8"));
  edit(config);
  writeFileSync(path, JSON.stringify(config));
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("bad model directories fail with an error that names the problem", () => {
  it("a directory that does not exist", async () => {
    await expect(Qwen3AsrEngine.load("/nonexistent/model")).rejects.toMatchObject({
      code: "model_dir_missing",
      message: expect.stringContaining("/nonexistent/model"),
    });
  });

  it.each(["decoder.onnx", "encoder.onnx", "embed_tokens.onnx", "config.json", "tokenizer.json"])("a missing %s", async (file) => {
    const dir = copyModel();
    unlinkSync(join(dir, file));
    await expect(Qwen3AsrEngine.load(dir)).rejects.toMatchObject({ code: "model_file_missing", message: expect.stringContaining(file) });
  });

  it("a config.json that is not JSON", async () => {
    const dir = copyModel();
    writeFileSync(join(dir, "config.json"), "{ not json");
    await expect(Qwen3AsrEngine.load(dir)).rejects.toMatchObject({ code: "invalid_model_config", message: expect.stringContaining("not valid JSON") });
  });

  it("a config.json missing a dimension", async () => {
    const dir = copyModel();
    editConfig(dir, (c) => delete c.qwen3_asr.head_dim);
    await expect(Qwen3AsrEngine.load(dir)).rejects.toMatchObject({ code: "invalid_model_config", message: expect.stringContaining("qwen3_asr.head_dim") });
  });

  it("config dimensions that disagree with the graphs", async () => {
    const dir = copyModel();
    editConfig(dir, (c) => {
      c.qwen3_asr.num_key_value_heads = 4;
    });
    await expect(Qwen3AsrEngine.load(dir, { decoding: "host" })).rejects.toMatchObject({
      code: "invalid_model_graph",
      message: expect.stringMatching(/decoder\.onnx: past_key_values\.0\.key has 2 on axis 1 but config\.json says num_key_value_heads\/head_dim = 4/),
    });
  });

  it("an I/O dtype that disagrees with the graphs", async () => {
    const dir = copyModel();
    editConfig(dir, (c) => {
      c.qwen3_asr.io_dtype = "float16"; // the float32 graphs with a float16 model's config
    });
    await expect(Qwen3AsrEngine.load(dir)).rejects.toMatchObject({
      code: "invalid_model_graph",
      message: expect.stringMatching(/encoder\.onnx: input_features is float32, the contract says float16/),
    });
  });

  it("a KV cache dtype that disagrees with the decoder", async () => {
    const dir = copyModel();
    editConfig(dir, (c) => {
      c.qwen3_asr.kv_dtype = "float16";
    });
    await expect(Qwen3AsrEngine.load(dir, { decoding: "host" })).rejects.toMatchObject({
      code: "invalid_model_graph",
      message: expect.stringMatching(/decoder\.onnx: past_key_values\.0\.key is float32, the contract says float16/),
    });
  });

  it("a layer count that disagrees with the decoder", async () => {
    const dir = copyModel();
    editConfig(dir, (c) => {
      c.qwen3_asr.num_hidden_layers = 3;
    });
    await expect(Qwen3AsrEngine.load(dir, { decoding: "host" })).rejects.toMatchObject({ code: "invalid_model_graph", message: expect.stringContaining("num_hidden_layers = 3") });
  });

  it("a vocabulary size that disagrees with the logits", async () => {
    const dir = copyModel();
    editConfig(dir, (c) => {
      c.qwen3_asr.vocab_size = 1024;
    });
    await expect(Qwen3AsrEngine.load(dir, { decoding: "host" })).rejects.toMatchObject({ code: "invalid_model_graph", message: expect.stringContaining("vocab_size = 1024") });
  });

  it.each(["decoder.onnx", "encoder.onnx", "generate.onnx"])("a corrupt %s", async (file) => {
    const dir = copyModel();
    truncateSync(join(dir, file), 1000);
    await expect(Qwen3AsrEngine.load(dir, { decoding: file === "decoder.onnx" ? "host" : "graph" })).rejects.toMatchObject({ code: "invalid_model_graph", message: expect.stringContaining(`${file} cannot be loaded`) });
  });

  it("asks for generate.onnx by name when graph decoding is required and the file is missing", async () => {
    const dir = copyModel();
    unlinkSync(join(dir, "generate.onnx"));
    await expect(Qwen3AsrEngine.load(dir, { decoding: "graph" })).rejects.toMatchObject({ code: "model_file_missing", message: expect.stringContaining("generate.onnx") });
    const engine = await Qwen3AsrEngine.load(dir);
    expect(engine.decoding).toBe("host");
    await engine.close();
  });

  it("a tokenizer.json without a model section", async () => {
    const dir = copyModel();
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({ version: "1.0" }));
    await expect(Qwen3AsrEngine.load(dir)).rejects.toMatchObject({ code: "invalid_tokenizer" });
  });
});
