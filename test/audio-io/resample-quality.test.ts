import { readFileSync } from "node:fs";
import audioDecode from "audio-decode";
import { describe, expect, it } from "vitest";
import { decodeAudio } from "../../gpu-worker/audio/decode.js";
import { melDistanceToReference } from "../../gpu-worker/audio/resample-check.js";
import { SincResampler } from "../../gpu-worker/audio/sinc-resampler.js";

// Broadband speech at each rate and sox `rate -v` (very high quality) 16 kHz references: tools/make_resample_fixtures.py.
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/audio/resample/${name}`, import.meta.url)));

describe("resampling against sox's very-high-quality resampler, on the features the model sees", () => {
  for (const rate of [8000, 22050, 44100, 48000]) {
    it(`${rate} Hz: within 0.02 log-mel units on every mel bin`, async () => {
      const ours = (await decodeAudio(fixture(`speech-${rate}.flac`))).pcm;
      const reference = (await decodeAudio(fixture(`speech-${rate}.sox-vhq-16k.flac`))).pcm;
      expect(ours.length).toBe(reference.length);
      const d = melDistanceToReference(ours, reference);
      expect(d.worstBin, `bin ${d.worstBinIndex}`).toBeLessThan(0.02);
      // libsamplerate's fastest converter, the previous default, fails the same check in the top bins.
      const fastest = melDistanceToReference((await decodeAudio(fixture(`speech-${rate}.flac`), { resampleQuality: "fastest" })).pcm, reference);
      expect(fastest.worstBin).toBeGreaterThan(0.3);
    });
  }

  it("gives the same samples however the input is split", async () => {
    const native = (await audioDecode(readFileSync(new URL("../fixtures/audio/resample/speech-44100.flac", import.meta.url)))).channelData[0];
    const whole = new SincResampler(44100, 16000);
    const a = [whole.push(native), whole.push(new Float32Array(0), true)];
    const pieces = new SincResampler(44100, 16000);
    const b: Float32Array[] = [];
    for (let at = 0; at < native.length; at += 7919) b.push(pieces.push(native.subarray(at, at + 7919)));
    b.push(pieces.push(new Float32Array(0), true));
    const join = (xs: Float32Array[]) => Float32Array.from(xs.flatMap((x) => [...x]));
    expect(join(b)).toEqual(join(a));
    expect(join(a).length).toBe(Math.ceil((native.length * 160) / 441));
  });

  it("passes a tone in the pass band at unit gain and removes one above 8 kHz", () => {
    const rate = 48000;
    const tone = (hz: number) => Float32Array.from({ length: rate }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));
    const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    const run = (x: Float32Array) => {
      const r = new SincResampler(rate, 16000);
      return r.push(x).subarray(2000, 14000); // away from the edges
    };
    expect(rms(run(tone(1000)))).toBeCloseTo(Math.SQRT1_2, 3);
    expect(rms(run(tone(7000)))).toBeCloseTo(Math.SQRT1_2, 2);
    expect(rms(run(tone(9000)))).toBeLessThan(1e-6); // would alias to 7 kHz
  });
});
