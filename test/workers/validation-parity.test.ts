/**
 * One validation story on both runtimes. The Node edge decodes an upload whole before it makes a job; the Workers
 * edge reads headers only (header-probe.test.ts) and passes on what needs the body to refuse. For every file the
 * Workers edge passes on, the GPU worker's decode (gpu-worker/job-audio.ts, what it fails jobs with) must give
 * the Node edge's verdict: the same error code, or success where the Node edge accepts. The corpus: the hostile
 * inputs, the speech of every format, and that speech cut short (what an interrupted upload leaves).
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodeAudioProbe } from "../../edge/node-probe.js";
import { validateAudio } from "../../edge/upload/validate.js";
import { headerAudioProbe } from "../../edge/workers/header-probe.js";
import { decodeJobAudio } from "../../gpu-worker/job-audio.js";
import { ApiError } from "../../shared/api-error.js";
import { AudioError } from "../../shared/audio-sniff.js";
import { parseServiceConfig } from "../../shared/config.js";
import { manifestSchema } from "../fixtures/bad-inputs/manifest.js";

const badInputs = new URL("../fixtures/bad-inputs/", import.meta.url);
const formats = new URL("../fixtures/audio/formats/", import.meta.url);
const manifest = manifestSchema.parse(JSON.parse(readFileSync(new URL("manifest.json", badInputs), "utf8")));
const limits = parseServiceConfig({ limits: manifest.limits }).limits;
const AUDIO_NAME = /\.(wav|flac|mp3|ogg|m4a|webm)$/;

const read = (url: URL): Uint8Array => new Uint8Array(readFileSync(url));
const corpus: Array<{ name: string; bytes: Uint8Array }> = [
  ...readdirSync(new URL("files/", badInputs))
    .filter((name) => AUDIO_NAME.test(name))
    .map((name) => ({ name, bytes: read(new URL(`files/${name}`, badInputs)) })),
  ...readdirSync(formats)
    .filter((name) => AUDIO_NAME.test(name))
    .flatMap((name) => {
      const bytes = read(new URL(name, formats));
      return [{ name, bytes }, ...[0.5, 0.1, 0.02].map((kept) => ({ name: `${name} cut to ${kept * 100} %`, bytes: bytes.slice(0, Math.floor(bytes.length * kept)) }))];
    }),
];

/**
 * The one pair of codes the edges give apart, both 422: an MP3 cut inside its first frame. Its header declares a
 * frame's worth of audio, too short on Workers (audio_too_short); the decoder finds no whole frame (empty_audio).
 */
const cutInFirstMp3Frame = (name: string, workers: Verdict, node: Verdict): boolean =>
  name.includes(".mp3") && typeof workers === "object" && workers.code === "audio_too_short" && typeof node === "object" && node.code === "empty_audio";

type Verdict = "accepted" | { status: number; code: string };

async function edgeVerdict(bytes: Uint8Array, probe: typeof nodeAudioProbe): Promise<Verdict> {
  try {
    await validateAudio(bytes, probe(limits), limits);
    return "accepted";
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, code: error.code };
    throw error;
  }
}

/** What the GPU worker does with the job: completes it, or fails it with the code (and the status it stands for). */
async function workerVerdict(bytes: Uint8Array): Promise<Verdict> {
  try {
    await decodeJobAudio(bytes, limits);
    return "accepted";
  } catch (error) {
    if (error instanceof AudioError) return { status: new ApiError(error.code, error.message).status, code: error.code };
    throw error;
  }
}

/** Both edges' verdicts on a corpus entry, computed once (decoding the corpus takes seconds). */
const edgeVerdicts = new Map<string, Promise<{ node: Verdict; workers: Verdict }>>();
function verdictsOf(entry: { name: string; bytes: Uint8Array }): Promise<{ node: Verdict; workers: Verdict }> {
  let verdicts = edgeVerdicts.get(entry.name);
  if (!verdicts) {
    verdicts = (async () => ({ node: await edgeVerdict(entry.bytes, nodeAudioProbe), workers: await edgeVerdict(entry.bytes, headerAudioProbe) }))();
    edgeVerdicts.set(entry.name, verdicts);
  }
  return verdicts;
}

describe("validation on the Workers edge + GPU worker = validation on the Node edge", () => {
  it.each(corpus)("$name", async (entry) => {
    const { node, workers } = await verdictsOf(entry);
    if (workers === "accepted") {
      // Passed on: the worker's decode decides, exactly as the Node edge did.
      expect(await workerVerdict(entry.bytes)).toEqual(node);
    } else if (cutInFirstMp3Frame(entry.name, workers, node)) {
      expect(node).toMatchObject({ status: workers.status });
    } else {
      // Refused from headers: only what the Node edge refuses too, with the same code.
      expect(workers).toEqual(node);
    }
  });

  it("covers files of both kinds: refused from headers, and passed on to be failed by the worker", async () => {
    let passedOnAndFailed = 0;
    let refusedFromHeaders = 0;
    for (const entry of corpus) {
      const { node, workers } = await verdictsOf(entry);
      if (workers !== "accepted") refusedFromHeaders++;
      else if (node !== "accepted") passedOnAndFailed++;
    }
    expect(refusedFromHeaders).toBeGreaterThan(20);
    expect(passedOnAndFailed).toBeGreaterThan(10);
  });
});
