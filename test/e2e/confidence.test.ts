import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nonSpeechClips } from "../../gpu-worker/audio/non-speech.js";
import { decodeAudio } from "../../gpu-worker/audio/decode.js";
import { startStack, type Stack } from "../support/stack.js";
import { pcm16Wav } from "../support/wav-writer.js";

// Confidence and no-speech through the whole pipeline (real HTTP server, real worker, the shipped model).
const MODEL = fileURLToPath(new URL("../../models/qwen3-asr-synth-en", import.meta.url));
const speechFile = readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url));

async function upload(stack: Stack, bytes: Uint8Array<ArrayBuffer>, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append("file", new Blob([bytes], { type: "audio/wav" }), "audio.wav");
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return stack.request("/v1/transcriptions", { method: "POST", body: form });
}

describe("confidence and no-speech end to end", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack("postgres", { model: { dir: MODEL } });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("reports the model's confidence per segment and per job, in native JSON and verbose_json", async () => {
    const created = await upload(stack, speechFile);
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const job = (await stack.waitFor(id)) as Record<string, unknown> & { segments: Record<string, number | string>[] };
    expect(job).toMatchObject({ status: "completed", text: "Set a timer for five minutes.", language: "en", no_speech: false });

    const [direct] = await stack.worker.engine.transcribe([{ pcm: (await decodeAudio(new Uint8Array(speechFile))).pcm }]);
    expect(job.segments).toHaveLength(1);
    expect(job.segments[0].avg_logprob).toBeCloseTo(direct.avgLogprob, 3);
    expect(job.segments[0].no_speech_prob).toBeCloseTo(direct.noSpeechProb, 3);
    expect(job.confidence).toBeCloseTo(Math.exp(direct.avgLogprob), 3);
    expect(job.confidence as number).toBeGreaterThan(0.9);
    expect(job.language_probability).toBeCloseTo(direct.languageProb as number, 3);

    const verbose = (await (await stack.request(`/v1/transcriptions/${id}/transcript?format=json`)).json()) as {
      segments: { avg_logprob: number; no_speech_prob: number }[];
    };
    expect(verbose.segments[0].avg_logprob).toBeCloseTo(direct.avgLogprob, 3);
    expect(verbose.segments[0].avg_logprob).not.toBe(0);
    expect(verbose.segments[0].no_speech_prob).toBeCloseTo(direct.noSpeechProb, 3);

    // OpenAI's endpoint, as the SDK would call it.
    const form = new FormData();
    form.append("file", new Blob([speechFile], { type: "audio/wav" }), "speech.wav");
    form.append("model", "qwen3-asr");
    form.append("response_format", "verbose_json");
    const openai = (await (await stack.request("/v1/audio/transcriptions", { method: "POST", body: form })).json()) as typeof verbose;
    expect(openai.segments[0].avg_logprob).toBeCloseTo(direct.avgLogprob, 3);
    expect(openai.segments[0].no_speech_prob).toBeCloseTo(direct.noSpeechProb, 3);
  });

  it("completes non-speech the model would put words to with an empty text and no_speech", async () => {
    // Music-like chords: loud enough for the energy detector, so the model is asked, and it invents a sentence.
    const chords = nonSpeechClips(16000, 2).find((c) => c.name === "chords#0");
    if (!chords) throw new Error("no chords clip");
    const [invented] = await stack.worker.engine.transcribe([{ pcm: chords.pcm }]);
    expect(invented.text).not.toBe("");

    const created = await upload(stack, pcm16Wav(chords.pcm, 16000));
    const { id } = (await created.json()) as { id: string };
    const job = await stack.waitFor(id);
    expect(job).toMatchObject({ status: "completed", text: "", segments: [], no_speech: true, confidence: null });
  });

  it("refuses a language the model does not support with 422 and the list, natively and through the OpenAI route", async () => {
    const native = await upload(stack, speechFile, { language: "fr" });
    expect(native.status).toBe(422);
    const body = (await native.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("unsupported_language");
    expect(body.error.message).toContain("en (English)");

    const form = new FormData();
    form.append("file", new Blob([speechFile], { type: "audio/wav" }), "speech.wav");
    form.append("model", "qwen3-asr");
    form.append("language", "fr");
    const openai = await stack.request("/v1/audio/transcriptions", { method: "POST", body: form });
    expect(openai.status).toBe(422);
    expect(await openai.json()).toMatchObject({ error: { code: "unsupported_language", param: "language", type: "invalid_request_error" } });

    // A supported one still works, and a detected language comes with its probability.
    const ok = await upload(stack, speechFile, { language: "English" });
    expect(ok.status).toBe(202);
    const job = await stack.waitFor(((await ok.json()) as { id: string }).id);
    expect(job).toMatchObject({ status: "completed", language: "en", language_probability: null });
  });
});

describe("a language the edge allows but the model does not support", () => {
  let stack: Stack;
  beforeAll(async () => {
    // model.languages widens what the edge accepts (as a Workers edge told too much would); the worker still checks.
    stack = await startStack("postgres", { model: { dir: MODEL, languages: ["en", "fr"] } });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("fails the job with unsupported_language and what the model supports", async () => {
    const created = await upload(stack, speechFile, { language: "fr" });
    expect(created.status).toBe(202);
    const job = await stack.waitFor(((await created.json()) as { id: string }).id);
    expect(job).toMatchObject({ status: "failed", error: { code: "unsupported_language", message: expect.stringContaining("supported: English") } });
  });
});
