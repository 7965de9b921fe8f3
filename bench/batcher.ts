import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { modelConfigSchema, type ModelConfig } from "../shared/model-config.js";
import { defaultCalibration, type Calibration } from "../gpu-worker/scheduler/calibration.js";
import { estimateBatchBytes, itemMaxNewTokens, promptTokens, type Decoding, type MemoryDtypes } from "../gpu-worker/scheduler/memory-model.js";
import { feedbackScenario } from "./feedback.js";
import { DEFAULT_SAFETY_MARGIN, planNextBatch, plannerConfig, type PlannerConfig } from "../gpu-worker/scheduler/planner.js";
import { TRACE, batchCost, cutIntoItems, generateJobs, type BenchItem, type JobClass } from "./trace.js";

/**
 * Batch-planner benchmark, cost-model mode: one seeded trace, the seed project's batching strategies and ours
 * side by side on the same simulated GPU, then the ratios measured in this run.
 *
 *   npm run bench:batcher              (tsx bench/batcher.ts [--seed N])
 *
 * Memory for every strategy is judged by our memory model (memory-model.ts) against the real 5 GiB budget:
 * a batch above it is counted as an out-of-memory failure. Time comes from the cost model in trace.ts.
 */

const GiB = 2 ** 30;
const SEED = 7;
const BUDGET_BYTES = 5 * GiB;
/**
 * ≈ 8 jobs/s ≈ 13 audio-min/s offered: above batch 1's capacity and near ours, so the GPU never idles for
 * long under any strategy and throughput is measured under load, not limited by arrivals.
 */
const ARRIVALS_PER_SECOND = 8;
/** The lever table measures capacity: the same jobs arriving fast enough to saturate every variant. */
const SATURATING_ARRIVALS_PER_SECOND = 100;
const MAX_WAIT_MS = 30_000;
const MAX_BATCH = 64;
/**
 * The worker prefetches at most this many work items from the job queue; strategies choose among those, the
 * rest wait upstream (their wait counts from arrival all the same).
 */
const LOCAL_QUEUE_LIMIT = 256;
/** Baselines get the packing that costs least memory; the planner picks its own per batch. */
const BASELINE_ENCODER_SLICES_PER_CALL = 1;

// ------------------------------------------------------------------------------------------- strategies

interface Decision {
  batch: BenchItem[];
  rejected: BenchItem[];
  encoderSlicesPerCall: number;
}

interface Strategy {
  name: string;
  next(queue: readonly BenchItem[], nowMs: number): Decision;
}

const fifo = (name: string, size: number): Strategy => ({
  name,
  next: (queue) => ({ batch: queue.slice(0, size), rejected: [], encoderSlicesPerCall: BASELINE_ENCODER_SLICES_PER_CALL }),
});

/** The seed's `calculate_optimal_batch_size`: 2.5 GiB base + 0.1 MiB per audio second, fill ascending under 5 GiB. */
const SEED_BASE_MIB = 2.5 * 1024;
const SEED_MIB_PER_SECOND = 0.1;
const SEED_MAX_MIB = 5 * 1024;
/** The seed's own guidance per job class (upper ends: the most favourable reading). */
const SEED_CAPS: Record<JobClass, number> = { short: 8, medium: 6, long: 3 };

function seedGreedy(name: string, config: ModelConfig, capped: boolean): Strategy {
  const seconds = (item: BenchItem): number => (item.frames * config.hop_length) / config.qwen3_asr.sample_rate;
  return {
    name,
    next: (queue) => {
      const ascending = [...queue].sort((a, b) => seconds(a) - seconds(b) || a.arrivalMs - b.arrivalMs);
      const batch: BenchItem[] = [];
      let mib = 0;
      let cap = Number.POSITIVE_INFINITY;
      for (const item of ascending) {
        const itemCap = capped ? Math.min(cap, SEED_CAPS[item.jobClass]) : cap;
        if (mib + SEED_MIB_PER_SECOND * seconds(item) > SEED_MAX_MIB - SEED_BASE_MIB || batch.length + 1 > itemCap) break;
        mib += SEED_MIB_PER_SECOND * seconds(item);
        cap = itemCap;
        batch.push(item);
      }
      return { batch, rejected: [], encoderSlicesPerCall: BASELINE_ENCODER_SLICES_PER_CALL };
    },
  };
}

function ours(name: string, model: ModelConfig, config: PlannerConfig): Strategy {
  return {
    name,
    next: (queue, nowMs) => {
      const plan = planNextBatch(model, queue, nowMs, config);
      return { batch: plan.batch, rejected: plan.rejected.map((r) => r.item), encoderSlicesPerCall: plan.encoderSlicesPerCall };
    },
  };
}

// -------------------------------------------------------------------------------------------- executors

interface BatchRun {
  seconds: number;
}

/**
 * How a batch gets run. EXTENSION POINT — real-engine mode: implement this with the onnxruntime engine
 * (gpu-worker/engine), timing each batch and sampling device memory (NVML) for its peak; feed the measured
 * peaks into a calibration file (gpu-worker/scheduler/calibration.ts) and select it with a --mode flag.
 */
interface BatchExecutor {
  mode: string;
  run(batch: readonly BenchItem[], encoderSlicesPerCall: number): Promise<BatchRun>;
}

const costModelExecutor = (model: ModelConfig, dtypes: MemoryDtypes, decoding: Decoding): BatchExecutor => ({
  mode: `cost model (${model.qwen3_asr.variant}, one H100 SXM, ${decoding} decoding loop; constants in bench/trace.ts)`,
  run: async (batch, slices) => ({ seconds: batchCost(model, dtypes, batch, slices, decoding).seconds }),
});

/**
 * The independent memory check: not the planner's own estimate, but the memory model with what was measured in
 * place of what it assumes — the KV copies a loop really keeps (bench/kv-copies.ts on this CPU: graph loop 2.71
 * copies of the generated cache, host loop 3.07 of the whole cache, against the planner's 3 and 2) and the
 * runtime reserve of the calibration in use. No GPU measurement exists yet (npm run gpu:check is ready for one).
 */
const MEASURED_KV_COPIES: Record<Decoding, number> = { graph: 2.71, host: 3.07 };
const independentPeak = (ctx: SimulationContext, batch: readonly BenchItem[], encoderSlicesPerCall: number): number =>
  estimateBatchBytes(ctx.model, ctx.dtypes, batch, {
    encoderSlicesPerCall,
    calibration: ctx.calibration,
    decoding: ctx.decoding,
    kvCopiesAlive: MEASURED_KV_COPIES[ctx.decoding],
  }).total;

// ------------------------------------------------------------------------------------------- simulation

interface RunStats {
  name: string;
  batches: number;
  items: number;
  rejected: number;
  meanBatch: number;
  audioHours: number;
  gpuMinutes: number;
  /** Audio of batches that stayed within the real budget. */
  survivingAudioHours: number;
  meanMemory: number;
  peakMemory: number;
  overBudget: number;
  paddingWaste: number;
  waitP50: number;
  waitP95: number;
  utilisation: number;
}

interface SimulationContext {
  model: ModelConfig;
  dtypes: MemoryDtypes;
  decoding: Decoding;
  calibration: Calibration;
  budgetBytes: number;
  executor: BatchExecutor;
}

async function simulate(strategy: Strategy, items: readonly BenchItem[], ctx: SimulationContext): Promise<RunStats> {
  const arrivals = [...items].sort((a, b) => a.arrivalMs - b.arrivalMs);
  let queue: BenchItem[] = [];
  let upstream: BenchItem[] = [];
  let next = 0;
  let now = arrivals[0]?.arrivalMs ?? 0;
  const waits: number[] = [];
  const memory: number[] = [];
  let busySeconds = 0;
  let audio = 0;
  let surviving = 0;
  let overBudget = 0;
  let rejected = 0;
  let slots = 0;
  let paddedSlots = 0;
  let batches = 0;
  while (next < arrivals.length || queue.length > 0 || upstream.length > 0) {
    while (next < arrivals.length && arrivals[next]!.arrivalMs <= now) upstream.push(arrivals[next++]!);
    if (queue.length < LOCAL_QUEUE_LIMIT && upstream.length > 0) {
      const room = LOCAL_QUEUE_LIMIT - queue.length;
      queue = queue.concat(upstream.slice(0, room));
      upstream = upstream.slice(room);
    }
    if (queue.length === 0) {
      now = arrivals[next]!.arrivalMs;
      continue;
    }
    const decision = strategy.next(queue, now);
    const leaving = new Set([...decision.batch, ...decision.rejected]);
    if (leaving.size === 0) throw new Error(`${strategy.name} made no progress with ${queue.length} items queued`);
    queue = queue.filter((item) => !leaving.has(item));
    rejected += decision.rejected.length;
    if (decision.batch.length === 0) continue;

    const { batch, encoderSlicesPerCall } = decision;
    const modelled = estimateBatchBytes(ctx.model, ctx.dtypes, batch, { encoderSlicesPerCall, calibration: ctx.calibration, decoding: ctx.decoding });
    const credit = batch.reduce((s, item) => s + item.creditSeconds, 0);
    const peak = independentPeak(ctx, batch, encoderSlicesPerCall);
    memory.push(peak / ctx.budgetBytes);
    if (peak > ctx.budgetBytes) overBudget++;
    else surviving += credit;
    audio += credit;
    // Planned KV slots: every row reserved up to the padded sequence length.
    const used = batch.reduce((s, item) => s + promptTokens(ctx.model, item) + itemMaxNewTokens(ctx.model, item), 0);
    slots += batch.length * modelled.shape.paddedSequenceTokens;
    paddedSlots += batch.length * modelled.shape.paddedSequenceTokens - used;
    for (const item of batch) waits.push((now - item.arrivalMs) / 1000);

    const run = await ctx.executor.run(batch, encoderSlicesPerCall);
    busySeconds += run.seconds;
    now += run.seconds * 1000;
    batches++;
  }
  const span = (now - (arrivals[0]?.arrivalMs ?? 0)) / 1000;
  return {
    name: strategy.name,
    batches,
    items: waits.length,
    rejected,
    meanBatch: waits.length / Math.max(1, batches),
    audioHours: audio / 3600,
    gpuMinutes: busySeconds / 60,
    survivingAudioHours: surviving / 3600,
    meanMemory: mean(memory),
    peakMemory: Math.max(0, ...memory),
    overBudget,
    paddingWaste: paddedSlots / Math.max(1, slots),
    waitP50: percentile(waits, 0.5),
    waitP95: percentile(waits, 0.95),
    utilisation: busySeconds / Math.max(1e-9, span),
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

// ----------------------------------------------------------------------------------------------- report

const throughput = (s: RunStats): number => s.audioHours / s.gpuMinutes;
const survivingThroughput = (s: RunStats): number => s.survivingAudioHours / s.gpuMinutes;
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

function printTable(rows: readonly RunStats[]): void {
  const header = [
    "strategy",
    "batches",
    "mean B",
    "audio-h/GPU-min",
    "  w/o OOM",
    "mean mem",
    "peak mem",
    "over budget",
    "padding",
    "wait p50",
    "wait p95",
    "GPU busy",
  ];
  printRows(
    header,
    rows.map((s) => [
      s.name,
      String(s.batches),
      s.meanBatch.toFixed(2),
      throughput(s).toFixed(2),
      survivingThroughput(s).toFixed(2),
      pct(s.meanMemory),
      pct(s.peakMemory),
      `${s.overBudget} (${pct(s.overBudget / Math.max(1, s.batches))})`,
      pct(s.paddingWaste),
      `${s.waitP50.toFixed(1)} s`,
      `${s.waitP95.toFixed(1)} s`,
      pct(s.utilisation),
    ]),
  );
}

function printRows(header: readonly string[], cells: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<string | null> {
  const { values } = parseArgs({ options: { seed: { type: "string" }, json: { type: "boolean" }, "cost-model-only": { type: "boolean" } } });
  const json = values.json === true;
  const seed = values.seed === undefined ? SEED : Number(values.seed);
  const model = modelConfigSchema.parse(
    JSON.parse(readFileSync(new URL("../test/fixtures/configs/qwen3-asr-1.7b.json", import.meta.url), "utf8")),
  );
  // The deployable graph: float16 weights, activations and KV (the converter's --weights float16), decoded by
  // generate.onnx (the loop inside onnxruntime), as the worker runs it on a GPU.
  const dtypes: MemoryDtypes = { weights: "float16", io: "float16" };
  const jobs = generateJobs(seed, TRACE.jobs, ARRIVALS_PER_SECOND);
  const items = cutIntoItems(model, jobs, TRACE.chunkSeconds, TRACE.overlapSeconds);
  const context = (d: MemoryDtypes, calibration: Calibration, decoding: Decoding = "graph"): SimulationContext => ({
    model,
    dtypes: d,
    decoding,
    calibration,
    budgetBytes: BUDGET_BYTES,
    executor: costModelExecutor(model, d, decoding),
  });
  const ctx = context(dtypes, defaultCalibration);
  const planner = plannerConfig(model, {
    budgetBytes: BUDGET_BYTES,
    maxWaitMs: MAX_WAIT_MS,
    maxBatch: MAX_BATCH,
    weightsDtype: dtypes.weights,
    ioDtype: dtypes.io,
    decoding: "graph",
  });

  const audioHours = jobs.reduce((s, j) => s + j.durationSeconds, 0) / 3600;
  const spanSeconds = (jobs[jobs.length - 1]?.arrivalMs ?? 0) / 1000;
  console.log(`Batch planner benchmark — ${ctx.executor.mode}`);
  console.log(
    `trace: seed ${seed}, ${jobs.length} jobs (${classCounts(jobs)}), ${items.length} work items ` +
      `(${TRACE.chunkSeconds} s chunks, ${TRACE.overlapSeconds} s overlap), ${audioHours.toFixed(1)} audio-hours, ` +
      `Poisson ${ARRIVALS_PER_SECOND} jobs/s over ${spanSeconds.toFixed(0)} s (offered load above every strategy's capacity ` +
      `but the literal greedy's, so the GPU stays busy); local queue ${LOCAL_QUEUE_LIMIT} items`,
  );
  console.log(
    `model: ${model.qwen3_asr.variant}, ${dtypes.weights} weights, ${dtypes.io} I/O; budget ${BUDGET_BYTES / GiB} GiB; ` +
      `ours: margin ${planner.safetyMargin}, maxWait ${MAX_WAIT_MS / 1000} s, maxBatch ${MAX_BATCH}; ` +
      `reserve ${(defaultCalibration.runtimeReserveBytes / 2 ** 20).toFixed(0)} MiB (${defaultCalibration.device})\n`,
  );

  const strategies = [
    fifo("batch 1", 1),
    fifo("fixed batch 2", 2),
    fifo("fixed batch 3", 3),
    seedGreedy("seed greedy, literal", model, false),
    seedGreedy("seed greedy, capped 8/6/3", model, true),
    ours("ours (planner)", model, planner),
  ];
  const results: RunStats[] = [];
  for (const strategy of strategies) results.push(await simulate(strategy, items, ctx));
  printTable(results);
  console.log(
    "\nmem = modelled peak / 5 GiB budget; over budget = batches whose modelled peak exceeds the budget (an OOM);\n" +
      "w/o OOM = audio of within-budget batches only, over the same GPU time; padding = planned KV slots left\n" +
      "empty by padding every row to the batch's longest prompt + bound; wait = queue wait of work items.",
  );

  const byName = (name: string): RunStats => results.find((r) => r.name === name)!;
  const mine = byName("ours (planner)");
  const greedyCapped = byName("seed greedy, capped 8/6/3");
  const batchOne = byName("batch 1");
  const ratio = (a: RunStats, b: RunStats): string =>
    `${(throughput(a) / throughput(b)).toFixed(2)}× (${(survivingThroughput(a) / survivingThroughput(b)).toFixed(2)}× counting only batches that fit)`;
  console.log(`\nratios measured in this run (audio-hours per GPU-minute):`);
  console.log(`  ours / seed greedy capped:  ${ratio(mine, greedyCapped)}   target ≥ 1.8×`);
  console.log(`  ours / seed greedy literal: ${ratio(mine, byName("seed greedy, literal"))}`);
  console.log(`  ours / fixed batch 3:       ${ratio(mine, byName("fixed batch 3"))}`);
  console.log(`  ours / batch 1:             ${ratio(mine, batchOne)}   target ≥ 5×`);
  console.log(
    `  ours: peak ≤ budget in ${pct(1 - mine.overBudget / Math.max(1, mine.batches))} of batches (target 100 %); ` +
      `mean budget use ${pct(mine.meanMemory)} (target ≥ 85 %); ${mine.rejected} items rejected`,
  );

  // What moves the result: ours with one change at a time, on the same jobs arriving fast enough to saturate
  // every variant, against batch 1 under the same settings (int8 weights and shorter chunks change batch 1 too).
  const saturating = generateJobs(seed, TRACE.jobs, SATURATING_ARRIVALS_PER_SECOND);
  const long = cutIntoItems(model, saturating, TRACE.chunkSeconds, TRACE.overlapSeconds);
  const short = cutIntoItems(model, saturating, 15, TRACE.overlapSeconds);
  const int8: MemoryDtypes = { ...dtypes, weights: "int8" };
  const int4: MemoryDtypes = { ...dtypes, weights: "int4" };
  const levers: { label: string; items: readonly BenchItem[]; ctx: SimulationContext; overrides: Partial<PlannerConfig> }[] = [
    { label: `as specified (graph loop, margin ${DEFAULT_SAFETY_MARGIN})`, items: long, ctx, overrides: {} },
    { label: "host loop (decoder.onnx from JavaScript)", items: long, ctx: context(dtypes, defaultCalibration, "host"), overrides: { decoding: "host" } },
    { label: "safety margin 0.1 (more cautious)", items: long, ctx, overrides: { safetyMargin: 0.1 } },
    { label: "safety margin 0 (fixed batch 3's headroom)", items: long, ctx, overrides: { safetyMargin: 0 } },
    { label: "15 s chunks", items: short, ctx, overrides: {} },
    { label: "int8 weights", items: long, ctx: context(int8, defaultCalibration), overrides: {} },
    { label: "int4 weights", items: long, ctx: context(int4, defaultCalibration), overrides: {} },
  ];
  const batchOneFor = new Map<string, RunStats>();
  const rows: string[][] = [];
  for (const lever of levers) {
    const config = plannerConfig(model, {
      budgetBytes: BUDGET_BYTES,
      maxWaitMs: MAX_WAIT_MS,
      maxBatch: MAX_BATCH,
      weightsDtype: lever.ctx.dtypes.weights,
      ioDtype: lever.ctx.dtypes.io,
      calibration: lever.ctx.calibration,
      decoding: lever.ctx.decoding,
      ...lever.overrides,
    });
    const run = await simulate(ours(lever.label, model, config), lever.items, lever.ctx);
    const key = `${lever.items.length}/${lever.ctx.dtypes.weights}/${lever.ctx.decoding}`;
    const one = batchOneFor.get(key) ?? (await simulate(fifo("batch 1", 1), lever.items, lever.ctx));
    batchOneFor.set(key, one);
    rows.push([
      lever.label,
      throughput(run).toFixed(2),
      run.meanBatch.toFixed(2),
      pct(run.meanMemory),
      String(run.overBudget),
      pct(run.utilisation),
      `${(throughput(run) / throughput(one)).toFixed(2)}×`,
      `${(throughput(run) / throughput(greedyCapped)).toFixed(2)}×`,
    ]);
  }
  console.log(`\nwhat moves ours (one change at a time; same jobs, arriving at ${SATURATING_ARRIVALS_PER_SECOND} jobs/s to measure capacity):`);
  printRows(
    ["variant", "audio-h/GPU-min", "mean B", "mean mem", "over budget", "GPU busy", "× batch 1 (same settings)", "× greedy capped (above)"],
    rows,
  );

  const precision = await precisionTable(seed);
  const scenario = feedbackScenario(seed);
  return json ? JSON.stringify([...precision, scenario]) : null;
}

interface PrecisionRow {
  model: string;
  precision: string;
  chunks_fit: number;
  audio_h_per_gpu_min: number;
  vs_batch1: number;
  vs_seed_greedy: number;
  within_budget: number;
}

/**
 * Every deployable precision of the 0.6B and 1.7B under 5 GiB, graph decoding: how many 30 s chunks fit one
 * batch, throughput of ours, batch 1 and the seed's greedy formula (capped) on the same saturating trace, and the
 * share of our batches within budget by the independent check. float32 is the CPU precision (shown for scale).
 */
async function precisionTable(seed: number): Promise<PrecisionRow[]> {
  const out: PrecisionRow[] = [];
  const printed: string[][] = [];
  const targets: string[] = [];
  for (const variant of ["qwen3-asr-0.6b", "qwen3-asr-1.7b"]) {
    const model = modelConfigSchema.parse(JSON.parse(readFileSync(new URL(`../test/fixtures/configs/${variant}.json`, import.meta.url), "utf8")));
    const items = cutIntoItems(model, generateJobs(seed, TRACE.jobs, SATURATING_ARRIVALS_PER_SECOND), TRACE.chunkSeconds, TRACE.overlapSeconds);
    let fp16BatchOne = 0;
    for (const weights of ["float32", "float16", "int8", "int4"] as const) {
      const dtypes: MemoryDtypes = { weights, io: weights === "float32" ? "float32" : "float16" };
      const ctx: SimulationContext = {
        model,
        dtypes,
        decoding: "graph",
        calibration: defaultCalibration,
        budgetBytes: BUDGET_BYTES,
        executor: costModelExecutor(model, dtypes, "graph"),
      };
      const config = plannerConfig(model, {
        budgetBytes: BUDGET_BYTES,
        maxWaitMs: MAX_WAIT_MS,
        maxBatch: MAX_BATCH,
        weightsDtype: dtypes.weights,
        ioDtype: dtypes.io,
        decoding: "graph",
      });
      const frames = (30 * model.qwen3_asr.sample_rate) / model.hop_length;
      const thirty = Array.from({ length: MAX_BATCH }, (_, i) => ({ id: `c${i}`, jobId: "j", arrivalMs: 0, frames }));
      const chunksFit = planNextBatch(model, thirty, 0, config).batch.length;
      const row: PrecisionRow = { model: variant, precision: weights, chunks_fit: chunksFit, audio_h_per_gpu_min: 0, vs_batch1: 0, vs_seed_greedy: 0, within_budget: 0 };
      if (chunksFit > 0) {
        const mine = await simulate(ours("ours", model, config), items, ctx);
        const one = await simulate(fifo("batch 1", 1), items, ctx);
        const greedy = await simulate(seedGreedy("seed greedy, capped", model, true), items, ctx);
        if (weights === "float16") fp16BatchOne = throughput(one);
        row.audio_h_per_gpu_min = throughput(mine);
        row.vs_batch1 = throughput(mine) / throughput(one);
        row.vs_seed_greedy = throughput(mine) / throughput(greedy);
        row.within_budget = 1 - mine.overBudget / Math.max(1, mine.batches);
        if (weights === "float16") targets.push(`${variant} float16: ours ${row.vs_batch1.toFixed(2)}× batch 1 (target ≥ 5×), ${row.vs_seed_greedy.toFixed(2)}× seed greedy (target ≥ 1.8×)`);
        if ((weights === "int8" || weights === "int4") && fp16BatchOne > 0) {
          targets.push(`${variant} ${weights}: ours ${(throughput(mine) / fp16BatchOne).toFixed(2)}× float16 batch 1 (target ≥ 10×)`);
        }
      }
      out.push(row);
      printed.push([
        variant,
        weights,
        String(chunksFit),
        row.audio_h_per_gpu_min.toFixed(2),
        chunksFit > 0 ? `${row.vs_batch1.toFixed(2)}×` : "does not fit",
        chunksFit > 0 ? `${row.vs_seed_greedy.toFixed(2)}×` : "",
        chunksFit > 0 ? pct(row.within_budget) : "",
      ]);
    }
  }
  console.log("\ndeployable precisions under 5 GiB (graph decoding; cost model; within budget by the independent check):");
  printRows(["model", "precision", "30 s chunks that fit", "audio-h/GPU-min", "× batch 1", "× seed greedy (capped)", "within budget"], printed);
  for (const t of targets) console.log(`  ${t}`);
  return out;
}

function classCounts(jobs: readonly { jobClass: JobClass }[]): string {
  const count = (c: JobClass): number => jobs.filter((j) => j.jobClass === c).length;
  return `${count("short")} short, ${count("medium")} medium, ${count("long")} long`;
}

const jsonLine = await main();
if (!process.argv.includes("--cost-model-only")) {
  const { realEngineBench } = await import("./batcher-real.js");
  await realEngineBench(fileURLToPath(new URL("../test/fixtures/models/tiny-random", import.meta.url)));
}
// `--json`: the last line is a JSON array, one object per model and precision, then the feedback scenario.
if (jsonLine) console.log(jsonLine);
