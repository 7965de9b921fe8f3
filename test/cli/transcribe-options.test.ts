import { describe, expect, it } from "vitest";
import { parseTranscribeArgs, resolveApiUrl, UsageError } from "../../cli/transcribe-options.js";

describe("transcribe CLI options", () => {
  it("takes the server URL from --api, then ASR_API_URL, then PORT, then 8787", () => {
    const env = { ASR_API_URL: "https://asr.example.com/", PORT: "9000" };
    expect(resolveApiUrl("http://10.0.0.2:1234", env)).toEqual({ apiUrl: "http://10.0.0.2:1234", apiUrlSource: "--api" });
    expect(resolveApiUrl(undefined, env)).toEqual({ apiUrl: "https://asr.example.com", apiUrlSource: "ASR_API_URL" });
    expect(resolveApiUrl(undefined, { PORT: "9000" })).toEqual({ apiUrl: "http://127.0.0.1:9000", apiUrlSource: "PORT" });
    expect(resolveApiUrl(undefined, {})).toEqual({ apiUrl: "http://127.0.0.1:8787", apiUrlSource: "default" });
    expect(() => resolveApiUrl("localhost:8787", {})).toThrow(UsageError);
    expect(() => resolveApiUrl("not a url", {})).toThrow(/--api "not a url" is not a URL/);
  });

  it("normalises the language, lets --format imply --wait, and takes the key from the flag, the env, then the local file", () => {
    const parsed = parseTranscribeArgs(["transcribe", "a.wav", "--format", "vtt", "--language", "English", "--interval", "0.5"], { ASR_API_KEY: "from-env" }, "from-file");
    expect(parsed).toEqual({
      help: false,
      options: expect.objectContaining({ file: "a.wav", wait: true, format: "vtt", language: "en", intervalMs: 500, key: "from-env" }),
    });
    const plain = parseTranscribeArgs(["a.wav"], {}, "from-file");
    expect(plain).toEqual({ help: false, options: expect.objectContaining({ wait: false, format: "txt", language: null, intervalMs: null, key: "from-file" }) });
    expect(parseTranscribeArgs(["a.wav", "--key", "flag"], { ASR_API_KEY: "env" })).toEqual({ help: false, options: expect.objectContaining({ key: "flag" }) });
    expect(parseTranscribeArgs(["--help", "--format", "pdf"], {})).toEqual({ help: true });
  });

  it("refuses more than one file", () => {
    expect(() => parseTranscribeArgs(["a.wav", "b.wav"], {})).toThrow(/one file at a time/);
  });
});
