import { describe, expect, it } from "vitest";
import { feedbackScenario } from "../../bench/feedback.js";

describe("bench:feedback scenario (model underestimates by 20 %)", () => {
  it("reports the over-budget shares without and with the loop, and the loop keeps them at or under 1 % after warm-up", () => {
    const s = feedbackScenario();
    expect(s.scenario).toBe("model_underestimates_20pct");
    // Without the loop the underestimate sends a real share of batches over the budget…
    expect(s.over_budget_without_loop).toBeGreaterThan(0.05);
    // …with it, after warm-up, at most the target.
    expect(s.over_budget_with_loop).toBeLessThanOrEqual(0.01);
    expect(s.loop_final.correction).toBeCloseTo(1.2, 2);
    expect(s.throughput_audio_hours_per_gpu_minute.with_loop).toBeGreaterThan(s.throughput_audio_hours_per_gpu_minute.without_loop);
    expect(s.throughput_audio_hours_per_gpu_minute.with_loop).toBeLessThanOrEqual(s.throughput_audio_hours_per_gpu_minute.oracle);
  }, 120_000);
});
