/**
 * A large WAV that is refused only at its last sample: 32-bit float, 48 kHz mono, every sample a quiet tone
 * except the last, which is NaN. Nothing short of decoding all of it finds the fault. Built in memory (it is
 * `megabytes` large), never committed.
 */
export function wavRefusedAtLastSample(megabytes: number): Uint8Array {
  const samples = Math.floor((megabytes * 1024 * 1024 - 44) / 4);
  const bytes = new Uint8Array(44 + samples * 4);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, text: string) => [...text].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + samples * 4, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 3, true); // IEEE float
  view.setUint16(22, 1, true);
  view.setUint32(24, 48_000, true);
  view.setUint32(28, 48_000 * 4, true);
  view.setUint16(32, 4, true);
  view.setUint16(34, 32, true);
  ascii(36, "data");
  view.setUint32(40, samples * 4, true);
  const pcm = new Float32Array(bytes.buffer, 44, samples);
  for (let i = 0; i < samples; i++) pcm[i] = 0.1 * Math.sin((2 * Math.PI * 440 * i) / 48_000);
  pcm[samples - 1] = Number.NaN;
  return bytes;
}
