/**
 * Real-engine mode of `npm run bench:batcher`: the tiny model on CPU, the same work items run three ways in one
 * process — one at a time, in arrival order in fixed batches, and as the planner groups them — with throughput
 * and padding waste measured by the engine itself.
 */
import { fileURLToPath } from "node:url";
import { Qwen3AsrEngine } from "../gpu-worker/engine/engine.js";
import { itemMaxNewTokens } from "../gpu-worker/scheduler/memory-model.js";
import { planNextBatch, plannerConfig } from "../gpu-worker/scheduler/planner.js";
import { seededRandom } from "../shared/seeded-random.js";
import { readPcm16Wav } from "../test/support/wav.js";

const ITEMS = 64;
const ARRIVAL_BATCH = 8;
const SEED = 11;
const ROUNDS = 3;

interface Item {
  id: string;
  jobId: string;
  frames: number;
  arrivalMs: number;
  pcm: Float32Array;
}


function workItems(): Item[] {
  const speech = readPcm16Wav(fileURLToPath(new URL("../test/fixtures/audio/speech-long.wav", import.meta.url)));
  const random = seededRandom(SEED);
  return Array.from({ length: ITEMS }, (_, i) => {
    // The trace's mix scaled to chunks: 60 % under 10 s, the rest 10–30 s chunks of long audio.
    const seconds = random() < 0.6 ? 1 + random() * 9 : 10 + random() * 20;
    const pcm = new Float32Array(Math.round(seconds * 16000));
    const offset = Math.floor(random() * speech.length);
    for (let j = 0; j < pcm.length; j++) pcm[j] = speech[(offset + j) % speech.length];
    return { id: `i${i}`, jobId: `j${i}`, frames: Math.floor(pcm.length / 160), arrivalMs: i, pcm };
  });
}

interface Outcome {
  name: string;
  seconds: number;
  audioSeconds: number;
  batches: number;
  paddingWaste: number;
}

export async function realEngineBench(modelDir: string): Promise<void> {
  const engine = await Qwen3AsrEngine.load(modelDir);
  const items = workItems();
  const audioSeconds = items.reduce((s, i) => s + i.pcm.length / 16000, 0);
  const maxNew = (i: Item): number => itemMaxNewTokens(engine.config, { frames: i.frames });
  await engine.transcribe([{ pcm: items[0].pcm, maxNewTokens: 2 }]); // warm-up

  const runBatches = async (name: string, batches: Item[][], slices = 1): Promise<Outcome> => {
    let padded = 0;
    let weight = 0;
    const started = performance.now();
    for (const batch of batches) {
      await engine.transcribe(batch.map((i) => ({ pcm: i.pcm, maxNewTokens: maxNew(i) })), { encoderSlicesPerCall: slices });
      const w = batch.reduce((s, i) => s + i.frames, 0);
      padded += engine.lastBatch.paddingWaste * w;
      weight += w;
    }
    return { name, seconds: (performance.now() - started) / 1000, audioSeconds, batches: batches.length, paddingWaste: padded / weight };
  };

  const arrival: Item[][] = [];
  for (let i = 0; i < items.length; i += ARRIVAL_BATCH) arrival.push(items.slice(i, i + ARRIVAL_BATCH));
  const config = plannerConfig(engine.config, { maxBatch: 16, maxWaitMs: 60_000 });
  const planned: Item[][] = [];
  let queue = [...items];
  while (queue.length > 0) {
    const plan = planNextBatch(engine.config, queue, 100, config);
    const taken = new Set(plan.batch);
    planned.push(plan.batch);
    queue = queue.filter((i) => !taken.has(i));
  }
  // Rounds interleave the strategies and the fastest round of each counts: the machine is shared, so a burst
  // of load elsewhere should not land on one strategy only.
  const best = new Map<string, Outcome>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const o of [
      await runBatches("batch 1", items.map((i) => [i])),
      await runBatches(`arrival order, batch ${ARRIVAL_BATCH}`, arrival),
      await runBatches("ours (planner, max 16)", planned, config.maxEncoderSlicesPerCall),
    ]) {
      const prior = best.get(o.name);
      if (!prior || o.seconds < prior.seconds) best.set(o.name, o);
    }
  }
  const [single, fixed, ours] = [...best.values()];
  await engine.close();

  console.log(`\nreal engine (tiny model on CPU, ${modelDir}): ${ITEMS} work items, ${audioSeconds.toFixed(0)} s of audio, measured in one run (best of ${ROUNDS} interleaved rounds)`);
  console.log("strategy                     batches  audio-s/s  padding waste");
  for (const o of [single, fixed, ours]) {
    console.log(`${o.name.padEnd(29)}${String(o.batches).padStart(7)}${(o.audioSeconds / o.seconds).toFixed(1).padStart(11)}${`${(o.paddingWaste * 100).toFixed(1)} %`.padStart(15)}`);
  }
  console.log(`ours / batch 1: ${(single.seconds / ours.seconds).toFixed(2)}× (target ≥ 1.5×); ours / arrival order: ${(fixed.seconds / ours.seconds).toFixed(2)}×`);
  console.log(`padding waste: ours ${(ours.paddingWaste * 100).toFixed(1)} % (target ≤ 10 %), arrival order ${(fixed.paddingWaste * 100).toFixed(1)} %`);
}
