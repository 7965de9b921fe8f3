import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { float16ToFloat32, float32ToFloat16, toHalfBits } from "../../gpu-worker/engine/tensor-dtype.js";

describe("float32 <-> float16", () => {
  it("encodes known values bit-exactly", () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // exactly half of it: ties to even (0)
      [1.5 * 2 ** -24, 0x0002], // tie between 1 and 2 subnormal units: to even
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: to even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd below: up
      [Infinity, 0x7c00], [-Infinity, 0xfc00],
    ];
    for (const [value, bits] of cases) expect(toHalfBits(value), String(value)).toBe(bits);
  });

  it("saturates finite values beyond half's range (an additive mask stays finite) and keeps NaN", () => {
    expect(toHalfBits(-3.4028234663852886e38)).toBe(0xfbff);
    expect(toHalfBits(70000)).toBe(0x7bff);
    expect(Number.isNaN(float16ToFloat32(new Uint16Array([toHalfBits(NaN)]))[0])).toBe(true);
  });

  it("round-trips every half value exactly", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0);
    expect(Array.from(float32ToFloat16(float16ToFloat32(all)))).toEqual(Array.from(all));
  });

  it("rounds to the nearest half (error at most half a unit in the last place)", () => {
    fc.assert(
      fc.property(fc.float({ min: -60000, max: 60000, noNaN: true, noDefaultInfinity: true }), (x) => {
        const y = float16ToFloat32(float32ToFloat16(new Float32Array([x])))[0];
        const ulp = Math.abs(x) < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 10);
        return Math.abs(y - Math.fround(x)) <= ulp / 2;
      }),
    );
  });
});
