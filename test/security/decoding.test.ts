/**
 * Untrusted audio is fully decoded off the edge's event loop (edge/decode-pool.ts), so /healthz and every other
 * request are answered while a large file refused only at its last sample is decoded; a decode past its deadline
 * is stopped and refused; the pool's queue is bounded.
 * (How fast /healthz answers meanwhile is measured by `npm run bench:abuse`, not asserted here.)
 */
import { afterAll, describe, expect, vi } from "vitest";
import { DecodePool } from "../../edge/decode-pool.js";
import { nodeAudioProbe } from "../../edge/node-probe.js";
import { parseServiceConfig } from "../../shared/config.js";
import { speechWav } from "./api-stack.js";
import { wavRefusedAtLastSample } from "./bad-wav.js";
import { vector } from "./vectors.js";

// The edge's own copy of the decoder refuses to run: whatever decodes must do it in a thread (which loads its own copy).
const decodedOnEventLoop = vi.hoisted(() => ({ calls: 0 }));
vi.mock("../../gpu-worker/audio/decode.js", () => ({
  decodeAudio: () => {
    decodedOnEventLoop.calls++;
    throw new Error("decodeAudio ran on the edge's event loop");
  },
}));

const limits = parseServiceConfig({}).limits;
const bad = wavRefusedAtLastSample(10);

describe("decoding untrusted uploads", () => {
  const pools: DecodePool[] = [];
  const pool = (options: ConstructorParameters<typeof DecodePool>[0]) => {
    const p = new DecodePool(options);
    pools.push(p);
    return p;
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  vector("a 10 MB WAV refused at its last sample is decoded in a thread, not on the event loop, and refused", async () => {
    const probe = nodeAudioProbe(limits, pool({ threads: 1 }));
    await expect(probe(bad)).rejects.toMatchObject({ code: "invalid_samples" });
    await expect(probe(speechWav)).resolves.toMatchObject({ format: "wav", contentType: "audio/wav" });
    expect(decodedOnEventLoop.calls).toBe(0);
  }, 60_000);

  vector("a decode past its deadline is stopped and refused, and the pool goes on decoding", async () => {
    const slow = pool({ threads: 1, deadlineMs: 1 });
    await expect(slow.decode(bad, limits)).rejects.toMatchObject({ code: "undecodable_audio", message: expect.stringMatching(/within/) });
    const probe = nodeAudioProbe(limits, pool({ threads: 1 }));
    await expect(probe(speechWav)).resolves.toMatchObject({ format: "wav" });
  }, 60_000);

  vector("more uploads waiting for a decode than the pool queues are answered 503 with Retry-After", async () => {
    const small = pool({ threads: 1, maxWaiting: 2 });
    const attempts = Array.from({ length: 6 }, () => small.decode(speechWav, limits).then(() => "decoded", (e: { code?: string }) => e.code));
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o === "service_unavailable").length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === "decoded").length).toBeGreaterThan(0);
  }, 60_000);
});
