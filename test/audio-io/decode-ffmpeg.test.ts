/**
 * The optional ffmpeg path, driven by stand-in shell scripts: tests must not need ffmpeg itself, and the
 * stand-ins can misbehave (fail, hang, never stop writing) on purpose.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAudio } from "../../gpu-worker/audio/decode.js";
import { AudioError } from "../../shared/audio-sniff.js";

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/audio/formats/${name}`, import.meta.url)));

let dir = "";

/** An executable stand-in for ffmpeg; `$OUT` is a file it may print, `$ARGS` where it records its arguments. */
function fakeFfmpeg(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nOUT="${join(dir, "out.wav")}"\nARGS="${join(dir, `${name}.args`)}"\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fake-ffmpeg-"));
  // What ffmpeg writes to a pipe: float WAV whose RIFF and data sizes are 0xFFFFFFFF placeholders.
  const wav = fixture("speech-16k-mono-f32.wav").slice();
  const view = new DataView(wav.buffer);
  view.setUint32(4, 0xffffffff, true);
  view.setUint32(76, 0xffffffff, true); // this file's data size field (its samples start at 80)
  writeFileSync(join(dir, "out.wav"), wav);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("decodeAudio with the ffmpeg option", () => {
  it("reads float WAV from ffmpeg's stdout as it streams, header split across writes", async () => {
    const ffmpeg = fakeFfmpeg("ok", 'echo "$@" > "$ARGS"; cat > /dev/null; head -c 30 "$OUT"; sleep 0.1; tail -c +31 "$OUT"');
    const viaFfmpeg = await decodeAudio(fixture("speech.flac"), { ffmpeg });
    const viaWasm = await decodeAudio(fixture("speech-16k-mono-f32.wav"));
    expect(viaFfmpeg).toMatchObject({ sourceFormat: "flac", sourceSampleRate: 16_000, sourceChannels: 1, sampleRate: 16_000 });
    expect(viaFfmpeg.pcm).toEqual(viaWasm.pcm);
    const args = readFileSync(join(dir, "ok.args"), "utf8");
    expect(args).toContain("-i pipe:0");
    expect(args).toContain("-c:a pcm_f32le -f wav pipe:1");
  });

  it("still sniffs first: ffmpeg never sees what is not a format we take", async () => {
    const ffmpeg = fakeFfmpeg("never", "exit 1");
    const error = await failure(decodeAudio(fixture("broken-not-audio.wav"), { ffmpeg }));
    expect((error as AudioError).code).toBe("unsupported_format");
  });

  it("turns a failing ffmpeg into undecodable_audio with its message", async () => {
    const ffmpeg = fakeFfmpeg("fails", 'cat > /dev/null; echo "moov atom not found" >&2; exit 1');
    const error = await failure(decodeAudio(fixture("speech.m4a"), { ffmpeg }));
    expect(error).toBeInstanceOf(AudioError);
    expect((error as AudioError).code).toBe("undecodable_audio");
    expect(error.message).toMatch(/ffmpeg could not decode this m4a\/aac file: moov atom not found/);
  });

  it("kills an ffmpeg that hangs", async () => {
    const ffmpeg = fakeFfmpeg("hangs", "exec sleep 30");
    const started = performance.now();
    const error = await failure(decodeAudio(fixture("speech.mp3"), { ffmpeg, ffmpegTimeoutMs: 300 }));
    expect((error as AudioError).code).toBe("undecodable_audio");
    expect(error.message).toMatch(/did not finish decoding .* in time/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("stops and kills an ffmpeg whose output runs past the duration limit", async () => {
    const ffmpeg = fakeFfmpeg("endless", 'cat > /dev/null; head -c 80 "$OUT"; exec cat /dev/zero');
    const error = await failure(decodeAudio(fixture("speech.mp3"), { ffmpeg, maxDurationSeconds: 1 }));
    expect((error as AudioError).code).toBe("audio_too_long");
  });

  it("rejects output that is not float WAV", async () => {
    const ffmpeg = fakeFfmpeg("s16", `cat > /dev/null; cat "${new URL("../fixtures/audio/formats/speech-16k-mono-s16.wav", import.meta.url).pathname}"`);
    const error = await failure(decodeAudio(fixture("speech.mp3"), { ffmpeg }));
    expect((error as AudioError).code).toBe("undecodable_audio");
    expect(error.message).toMatch(/not 32-bit float WAV/);
  });

  it("reports a missing binary as a deployment error, not as the upload's fault", async () => {
    const error = await failure(decodeAudio(fixture("speech.mp3"), { ffmpeg: join(dir, "no-such-ffmpeg") }));
    expect(error).not.toBeInstanceOf(AudioError);
    expect(error.message).toMatch(/could not run ffmpeg/);
  });
});
