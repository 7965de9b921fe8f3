import { describe, expect, it } from "vitest";
import { canonicalOrigin, isOriginPattern, originAllowed } from "../../shared/origins.js";

describe("origins", () => {
  it("writes an origin the way a browser sends it", () => {
    expect(canonicalOrigin("https://App.Example.com")).toBe("https://app.example.com");
    expect(canonicalOrigin("https://app.example.com:443")).toBe("https://app.example.com");
    expect(canonicalOrigin("http://localhost:5173/")).toBe("http://localhost:5173");
    expect(canonicalOrigin("http://127.0.0.1:8080")).toBe("http://127.0.0.1:8080");
  });

  it("refuses URLs that are more than an origin, and other schemes", () => {
    for (const text of ["https://app.example.com/page", "https://app.example.com?x=1", "https://u:p@app.example.com", "ftp://app.example.com", "null", "app.example.com", ""]) {
      expect(canonicalOrigin(text), text).toBeNull();
    }
    expect(isOriginPattern("*")).toBe(true);
    expect(isOriginPattern("*.example.com")).toBe(false);
  });

  it("matches exactly, or anything under *", () => {
    expect(originAllowed("https://a.example", ["https://a.example"])).toBe(true);
    expect(originAllowed("https://a.example:8443", ["https://a.example"])).toBe(false);
    expect(originAllowed("http://a.example", ["https://a.example"])).toBe(false);
    expect(originAllowed("https://b.example", ["*"])).toBe(true);
    expect(originAllowed("https://b.example", [])).toBe(false);
  });
});
