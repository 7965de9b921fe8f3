import { describe, expect, it } from "vitest";
import { planChunks } from "../../gpu-worker/audio/chunk.js";
import { chunkingForModel } from "../../gpu-worker/audio/segment-length.js";

describe("segment length per model", () => {
  it("keeps the service's 30 s when the model declares nothing, and shortens to the model's length", () => {
    expect(chunkingForModel({ chunkSeconds: 30, overlapSeconds: 1 }, undefined)).toEqual({ chunkSeconds: 30, overlapSeconds: 1, cutSearchSeconds: 5 });
    expect(chunkingForModel({ chunkSeconds: 30, overlapSeconds: 1 }, 5)).toEqual({ chunkSeconds: 5, overlapSeconds: 1, cutSearchSeconds: 3.5 });
    expect(chunkingForModel({ chunkSeconds: 30, overlapSeconds: 1 }, 2)).toEqual({ chunkSeconds: 2, overlapSeconds: 0.5, cutSearchSeconds: 1 });
    // A model cannot ask for longer chunks than the service allows.
    expect(chunkingForModel({ chunkSeconds: 20, overlapSeconds: 1 }, 40).chunkSeconds).toBe(20);
  });

  it("cuts at every pause up to the model's length: one sentence a chunk", () => {
    // Six 3 s "sentences" (a tone) with 0.6 s pauses: 30 s chunks take several, 5 s chunks one each.
    const sr = 16000;
    const pcm = new Float32Array(Math.round(6 * 3.6 * sr));
    for (let s = 0; s < 6; s++) {
      const start = Math.round(s * 3.6 * sr);
      for (let i = 0; i < 3 * sr; i++) pcm[start + i] = 0.3 * Math.sin((2 * Math.PI * 220 * i) / sr);
    }
    const long = planChunks(pcm, sr, { ...chunkingForModel({ chunkSeconds: 30, overlapSeconds: 1 }, undefined) });
    const short = planChunks(pcm, sr, { ...chunkingForModel({ chunkSeconds: 30, overlapSeconds: 1 }, 5) });
    expect(long).toHaveLength(1);
    expect(short).toHaveLength(6);
    for (const c of short.slice(0, -1)) expect(c.endReason).toBe("pause");
  });
});
