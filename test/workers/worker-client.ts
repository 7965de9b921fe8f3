import { exports } from "cloudflare:workers";
import { inject } from "vitest";

/** Requests to the Worker's own fetch handler (edge/worker.ts with the miniflare bindings), as a client sends them. */
export function callWorker(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(new URL(path, "https://edge.test"), init));
}

export const auth = (key: string = inject("apiKey")): Record<string, string> => ({ Authorization: `Bearer ${key}` });

/** What the Node side sees: messages received from the SQS emulator with the AWS SDK, rows read with postgres.js. */
export const nodeSide = {
  /** The queue message sent for a job, as the AWS SDK receives it from the emulator; null if none came in 5 s. */
  async messageFor(jobId: string): Promise<unknown> {
    const response = await fetch(`${inject("inspectorUrl")}/sqs/messages/${jobId}`);
    return response.status === 404 ? null : ((await response.json()) as unknown);
  },
  async job(id: string): Promise<{ job: Record<string, unknown>; outbox: Record<string, unknown>[] } | null> {
    const response = await fetch(`${inject("inspectorUrl")}/db/jobs/${id}`);
    if (response.status === 404) return null;
    return (await response.json()) as { job: Record<string, unknown>; outbox: Record<string, unknown>[] };
  },
};

/** A PCM WAV tone whose header says exactly how long it is: 8 kHz 8-bit mono by default (small files). */
export function wavTone(seconds: number, format: { sampleRate?: number; channels?: number; bits?: 8 | 16 } = {}): Uint8Array<ArrayBuffer> {
  const { sampleRate = 8000, channels = 1, bits = 8 } = format;
  const blockAlign = channels * (bits / 8);
  const frames = Math.round(sampleRate * seconds);
  const dataBytes = frames * blockAlign;
  const bytes = new Uint8Array(44 + dataBytes);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < frames; i++) {
    const sample = Math.sin((2 * Math.PI * 440 * i) / sampleRate) * 0.4;
    for (let ch = 0; ch < channels; ch++) {
      const at = 44 + i * blockAlign + ch * (bits / 8);
      if (bits === 8) bytes[at] = 128 + Math.round(127 * sample);
      else view.setInt16(at, Math.round(32767 * sample), true);
    }
  }
  const ascii = (at: number, text: string) => [...text].forEach((ch, i) => (bytes[at + i] = ch.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bits, true);
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  return bytes;
}

export function fileForm(bytes: Uint8Array<ArrayBuffer>, name: string, type = "application/octet-stream"): FormData {
  const form = new FormData();
  form.append("file", new Blob([bytes], { type }), name);
  return form;
}
