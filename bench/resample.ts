/**
 * npm run bench:resample — how close each libsamplerate converter gets to sox's very-high-quality resampler on
 * the features the model sees (per mel bin, the mean |difference| of log-mel over frames, on
 * test/fixtures/audio/resample), and what it costs in speed (× realtime, on one minute of the same audio).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { decodeAudio, type ResampleQuality } from "../gpu-worker/audio/decode.js";
import { melDistanceToReference } from "../gpu-worker/audio/resample-check.js";
import { pcm16Wav } from "../test/support/wav-writer.js";
import audioDecode from "audio-decode";

const dir = fileURLToPath(new URL("../test/fixtures/audio/resample/", import.meta.url));
const rates = [8000, 22050, 44100, 48000];
const qualities: ResampleQuality[] = ["vhq", "fastest", "medium", "best"];

console.log("rate     quality   worst |bias| (bin)   worst mean |Δ| (bin)   mean |Δ| over bins   speed (× realtime)");
for (const rate of rates) {
  const source = new Uint8Array(readFileSync(`${dir}speech-${rate}.flac`));
  const reference = (await decodeAudio(new Uint8Array(readFileSync(`${dir}speech-${rate}.sox-vhq-16k.flac`)))).pcm;
  // Speed on one minute of audio at the source rate (the clip repeated), as a 16-bit WAV: decoding a WAV costs
  // next to nothing, so the time is the resampler's.
  const native = await audioDecode(readFileSync(`${dir}speech-${rate}.flac`));
  const clip = native.channelData[0];
  const minute = new Float32Array(rate * 60);
  for (let at = 0; at < minute.length; at += clip.length) minute.set(clip.subarray(0, Math.min(clip.length, minute.length - at)), at);
  const wav = pcm16Wav(minute, rate);
  for (const quality of qualities) {
    const ours = (await decodeAudio(source, { resampleQuality: quality })).pcm;
    const d = melDistanceToReference(ours, reference);
    const started = performance.now();
    await decodeAudio(wav, { resampleQuality: quality });
    const seconds = (performance.now() - started) / 1000;
    const reps = 1;
    console.log(
      `${String(rate).padEnd(9)}${quality.padEnd(10)}${d.worstBias.toFixed(4).padStart(8)} (${String(d.worstBiasBin).padStart(3)})${d.worstBin.toFixed(4).padStart(14)} (${String(d.worstBinIndex).padStart(3)})${d.meanOverBins.toFixed(4).padStart(18)}${((reps * 60) / seconds).toFixed(0).padStart(18)}`,
    );
  }
}
