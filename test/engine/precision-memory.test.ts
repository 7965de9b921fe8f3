import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { loadModelDirectory } from "../../gpu-worker/engine/model-dir.js";
import { openModelSessions, sessionOptionsFor } from "../../gpu-worker/engine/sessions.js";
import { constantBytesByDtype, readOnnxGraph } from "../support/onnx-proto.js";

/**
 * Proof that nothing is widened at load: onnxruntime's optimised graphs (what a session holds after constant
 * folding, at the engine's level "all") keep every weight at its stored dtype, and a fresh process's resident
 * set grows by config.json's weight bytes when the engine opens the model.
 *
 * float16 graphs target CUDA. onnxruntime's CPU provider has no half MatMul/Gemm kernels and inserts casts that
 * widen those weights to float32, so on a CPU-only run the float16 load checks are skipped; they run with
 * EXECUTION_PROVIDER=cuda. What the CPU run does check for float16 is the graph property that makes CUDA keep
 * the weights half: no Cast reads a weight, so there is nothing for constant folding to widen.
 */
const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (p: string) => join(root, "test", "fixtures", p);
const shipped = (p: string) => join(root, "models", "qwen3-asr-synth-en", "precisions", p);
const onCuda = process.env.EXECUTION_PROVIDER === "cuda";
const GRAPHS = ["encoder", "embed_tokens", "decoder", "generate"] as const;

const models = [
  ["tiny float32", fixture("models/tiny-random")],
  ["tiny float16", fixture("models/tiny-random-fp16")],
  ["tiny int8", fixture("models/tiny-random-int8")],
  ["tiny int4", fixture("models/tiny-random-int4")],
  ["shipped float16", shipped("float16")],
  ["shipped int8", shipped("int8")],
  ["shipped int4", shipped("int4")],
] as const;

const scratch = mkdtempSync(join(tmpdir(), "precision-memory-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.each(models)("%s", (label, dir) => {
  const model = loadModelDirectory(dir);
  const q = model.config.qwen3_asr;
  const half = q.weights_dtype === "float16";

  it("records per-graph weight bytes that match the graphs it ships", () => {
    expect(q.weight_bytes).toBeDefined();
    for (const g of GRAPHS) {
      const stored = constantBytesByDtype(readOnnxGraph(join(dir, `${g}.onnx`)));
      expect(Object.values(stored).reduce((a, b) => a + b, 0), g).toBe(q.weight_bytes?.[g]);
    }
    // generate.onnx holds the decoder's weights once (the loop body reads them from the outer scope), plus an
    // embedding table only when lm_head is quantized and cannot serve as one.
    const extraTable = q.weights_dtype === "int8" || q.weights_dtype === "int4" ? q.vocab_size * q.hidden_size * 2 : 0;
    expect((q.weight_bytes?.generate ?? 0) - (q.weight_bytes?.decoder ?? 0)).toBeLessThanOrEqual(extraTable + 16_384);
    expect(q.kv_dtype).toBe(half ? "float16" : "float32");
    expect(q.io_dtype).toBe(half ? "float16" : "float32");
  });

  it.runIf(half)("feeds no weight through a Cast (nothing for constant folding to widen)", () => {
    for (const g of GRAPHS) {
      const graph = readOnnxGraph(join(dir, `${g}.onnx`));
      const weights = new Map(graph.initializers.map((t) => [t.name, t]));
      const castOfWeight = graph.nodes.filter((n) => n.opType === "Cast" && weights.has(n.inputs[0]));
      expect(castOfWeight.map((n) => n.name), g).toEqual([]);
      // Every matrix is half; float32 is left only for norm weights (read inside float32 islands) and scalars.
      const float32Matrices = graph.initializers.filter((t) => t.dtype === "float32" && t.dims.length >= 2);
      expect(float32Matrices.map((t) => t.name), g).toEqual([]);
    }
  });

  it.skipIf(half && !onCuda)("keeps every weight at its stored dtype in onnxruntime's optimised graphs", async () => {
    const out = mkdtempSync(join(scratch, "opt-"));
    // Both decoding graphs: decoder.onnx (host loop) and generate.onnx (the loop inside onnxruntime).
    for (const decoding of ["host", "graph"] as const) {
      const sessions = await openModelSessions(model, {
        optimizedModelDir: out,
        executionProvider: onCuda ? "cuda" : "cpu",
        decoding,
      });
      await Promise.all([sessions.encoder.release(), sessions.embedTokens.release(), sessions.decoder.session.release()]);
    }
    for (const g of GRAPHS) {
      const stored = constantBytesByDtype(readOnnxGraph(join(dir, `${g}.onnx`)));
      const optimized = constantBytesByDtype(readOnnxGraph(join(out, `${g}.optimized.onnx`)));
      // Folding may add small float32 constants (RoPE tables, shapes); a widened weight would add megabytes.
      const grownFloat32 = (optimized.float32 ?? 0) - (stored.float32 ?? 0);
      expect(grownFloat32, `${g}: float32 constants grew ${JSON.stringify(stored)} -> ${JSON.stringify(optimized)}`)
        .toBeLessThanOrEqual(0.02 * (q.weight_bytes?.[g] ?? 0) + 16_384);
      for (const dtype of ["float16", "uint8"]) {
        expect(optimized[dtype] ?? 0, `${g}: ${dtype} weights`).toBe(stored[dtype] ?? 0);
      }
    }
  });
});

/**
 * Session memory in a fresh process, against config.json's weight bytes. Only the shipped model's weights
 * (5-9 MB) are large enough for a resident-set delta to mean something (the tiny graphs are a few hundred KB,
 * under the page-level noise). MALLOC_MMAP_THRESHOLD_ is fixed so that transient buffers (the parsed protobuf)
 * are returned to the system when freed instead of staying in the heap and reading as session memory; a
 * tiny model of the same precision is opened first so that per-kernel one-off costs are not counted.
 */
const run = promisify(execFile);
describe.each([
  // float16 is measured only on CUDA (see above), where RSS is the wrong gauge anyway: the GPU's memory is.
  ["int8", fixture("models/tiny-random-int8"), 0.1],
  // onnxruntime's CPU MatMulNBits keeps a prepacked 4-bit layout about 12 % larger than the stored one
  // (measured: 5.15 MB resident for 4.60 MB stored with decoder.onnx; 6.39 MB for 5.56 MB, +15.1 %, with
  // generate.onnx, whose loop also gathers from a half-precision embedding table). Above the 10 % the memory
  // model aims at: the CPU's prepacking is not what a GPU holds (gpu:check measures that).
  ["int4", fixture("models/tiny-random-int4"), 0.2],
] as const)("shipped %s session memory", (precision, warmup, tolerance) => {
  it(`is within ${tolerance * 100} % of config.json's weight bytes`, async () => {
    // Three fresh processes, the smallest growth kept: what else a busy machine makes a process touch (thread
    // stacks, lazily mapped pages) only adds to the resident set, never takes from it.
    const measure = async (): Promise<{ rssDeltaBytes: number; weightBytes: Record<string, number> }> => {
      const { stdout } = await run(
        process.execPath,
        ["--expose-gc", "--import", "tsx", join(root, "test", "support", "session-memory-child.ts"), shipped(precision), warmup],
        { cwd: root, env: { ...process.env, MALLOC_MMAP_THRESHOLD_: "65536" }, timeout: 60_000 },
      );
      return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { rssDeltaBytes: number; weightBytes: Record<string, number> };
    };
    const runs = [await measure(), await measure(), await measure()];
    const { weightBytes } = runs[0];
    const rssDeltaBytes = Math.min(...runs.map((r) => r.rssDeltaBytes));
    const weights = Object.values(weightBytes).reduce((a, b) => a + b, 0);
    expect(Math.abs(rssDeltaBytes - weights) / weights, `resident ${rssDeltaBytes} B vs weights ${weights} B`).toBeLessThanOrEqual(tolerance);
  }, 90_000);
});

describe("session options", () => {
  const model = loadModelDirectory(fixture("models/tiny-random-fp16"));
  it("on CUDA allocate weights outside the arena and keep the embedding table on the CPU", () => {
    const opts = sessionOptionsFor(model, { executionProvider: "cuda", deviceId: 1 });
    expect(opts.decoder.executionProviders).toEqual([{ name: "cuda", deviceId: 1 }]);
    expect(opts.decoder.extra).toEqual({ session: { use_device_allocator_for_initializers: "1" } });
    expect(opts.embedTokens.executionProviders).toEqual(["cpu"]);
    expect(opts.decoder.graphOptimizationLevel).toBe("all");
  });
  it("on the CPU change nothing in onnxruntime's allocation", () => {
    const opts = sessionOptionsFor(model, {});
    expect(opts.encoder.executionProviders).toEqual(["cpu"]);
    expect(opts.encoder.extra).toBeUndefined();
    expect(opts.encoder.optimizedModelFilePath).toBeUndefined();
  });
});
