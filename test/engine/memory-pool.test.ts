import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Qwen3AsrEngine } from "../../gpu-worker/engine/engine.js";
import { poolSessionOptions } from "../../gpu-worker/engine/memory-pool.js";
import { ConfigError, parseServiceConfig } from "../../shared/config.js";
import { readPcm16Wav } from "../support/wav.js";

const fixture = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));

describe("memory.pool config", () => {
  it("defaults to the arena on, memory patterns off (bench:pool), weights in the arena, and the seed's 0.1 fragmentation threshold", () => {
    const { memory } = parseServiceConfig({});
    expect(memory.pool).toEqual({ cpuArena: true, memoryPattern: false, initializersOutsideArena: false, sessionConfig: {}, fragmentationThreshold: 0.1 });
    expect(memory.feedback).toMatchObject({ enabled: true, tightenAbove: 0.9, relaxBelow: 0.8, maxCorrection: 1.5 });
  });

  it("refuses settings that cannot work, naming the key", () => {
    expect(() => parseServiceConfig({ memory: { pool: { cpuArena: "no" } } })).toThrow(/memory\.pool\.cpuArena/);
    expect(() => parseServiceConfig({ memory: { pool: { sessionConfig: { "not a key": "1" } } } })).toThrow(ConfigError);
    expect(() => parseServiceConfig({ memory: { pool: { fragmentationThreshold: 2 } } })).toThrow(/fragmentationThreshold/);
    expect(() => parseServiceConfig({ memory: { feedback: { relaxBelow: 0.95 } } })).toThrow(/relaxBelow/);
    expect(() => parseServiceConfig({ memory: { feedback: { maxCorrection: 0.5 } } })).toThrow(/maxCorrection/);
  });
});

describe("poolSessionOptions", () => {
  it("maps the pool settings to onnxruntime session options, passing only what is set", () => {
    expect(poolSessionOptions({})).toEqual({});
    expect(poolSessionOptions({ cpuArena: false, memoryPattern: false, initializersOutsideArena: true, sessionConfig: { "session.disable_prepacking": "1" } })).toEqual({
      enableCpuMemArena: false,
      enableMemPattern: false,
      extra: { "session.disable_prepacking": "1", "session.use_device_allocator_for_initializers": "1" },
    });
  });

  it("opens real sessions with every setting changed, and they transcribe exactly as the defaults do", async () => {
    const clip = { pcm: readPcm16Wav(fixture("audio/speech.wav")), maxNewTokens: 12 };
    const defaults = await Qwen3AsrEngine.load(fixture("models/tiny-random"));
    const changed = await Qwen3AsrEngine.load(fixture("models/tiny-random"), {
      pool: { cpuArena: false, memoryPattern: false, initializersOutsideArena: true, sessionConfig: { "session.disable_prepacking": "1" } },
    });
    try {
      const [a] = await defaults.transcribe([clip, clip]);
      const [b] = await changed.transcribe([clip, clip]);
      expect(b.generatedIds).toEqual(a.generatedIds);
      expect(b.generatedIds.length).toBeGreaterThan(0);
    } finally {
      await Promise.all([defaults.close(), changed.close()]);
    }
  });
});
