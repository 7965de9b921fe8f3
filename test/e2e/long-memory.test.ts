import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAudio } from "../../gpu-worker/audio/decode.js";
import { longRunHarness, loopedWav, type LongRunHarness } from "../../dev/long-run.js";

const shipped = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const MODEL = existsSync(shipped) ? shipped : fileURLToPath(new URL("../fixtures/models/tiny-random", import.meta.url));

describe("worker memory stays flat as audio grows (1, 5, 10 min, fresh worker process each)", () => {
  let harness: LongRunHarness;
  let source: Float32Array;
  beforeAll(async () => {
    source = (await decodeAudio(new Uint8Array(readFileSync(new URL("../fixtures/audio/long-10min.ogg", import.meta.url))))).pcm;
    harness = await longRunHarness(MODEL);
  }, 180_000);
  afterAll(() => harness?.close());

  it("grows by no more than the decoded PCM and the uploaded bytes", async () => {
    const runs = [];
    for (const minutes of [1, 5, 10]) {
      const wav = loopedWav(source, minutes * 60);
      runs.push({ ...(await harness.run(wav, minutes * 60)), wavBytes: wav.length });
    }
    for (const r of runs) console.log(`${r.seconds / 60} min: peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${r.chunks} chunks`);
    const [one, , ten] = runs;
    const grown = ten.peakRssBytes - one.peakRssBytes;
    // What must scale with length: the stored bytes read back and the decoded 16 kHz PCM; the rest is noise
    // (garbage not yet collected, arena rounding).
    const allowance = ten.wavBytes - one.wavBytes + (ten.pcmBytes - one.pcmBytes) + 128 * 2 ** 20;
    expect(grown).toBeLessThan(allowance);
    expect(ten.chunks).toBeGreaterThanOrEqual(20);
  }, 600_000);
});
