import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transcribeCommand } from "../../cli/transcribe.js";

/** Collects what the CLI writes. */
function sink(): Writable & { text: string } {
  const out = new Writable({
    write(chunk, _encoding, done) {
      out.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  out.text = "";
  return out;
}

// A stand-in API on a real socket: each poll of the job returns the next state of a scripted run.
describe("asr transcribe --wait shows the job's phases", () => {
  let server: Server;
  let url: string;
  const states = [
    { status: "processing", phase: "fetching", progress: 0 },
    { status: "processing", phase: "decoding", progress: 0.05 },
    { status: "processing", phase: "transcribing", progress: 0.4 },
    { status: "completed", phase: null, progress: 1, no_speech: true },
  ];
  let polls = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && req.url === "/v1/transcriptions") {
        req.resume();
        req.on("end", () => res.end(JSON.stringify({ id: "tr_1", status: "queued", phase: null, progress: 0, error: null })));
      } else if (req.url === "/v1/transcriptions/tr_1") {
        res.end(JSON.stringify({ id: "tr_1", error: null, ...states[Math.min(polls++, states.length - 1)] }));
      } else if (req.url?.startsWith("/v1/transcriptions/tr_1/transcript")) {
        res.setHeader("content-type", "text/plain");
        res.end("");
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: { code: "not_found", message: req.url } }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("prints each phase with a bar that only fills, then says there was no speech", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "cli-progress-")), "a.wav");
    writeFileSync(file, new Uint8Array(64));
    const out = sink();
    const err = sink();
    const code = await transcribeCommand([file, "--wait", "--api", url, "--key", "sk_test", "--interval", "1"], out, err);
    expect(code).toBe(0);
    const lines = err.text.trim().split("\n");
    const labels = lines.map((l) => l.replace(/^\[[#.]+\]\s+\d+%\s+/, "").trim());
    expect(labels).toEqual(["queued", "fetching", "decoding", "transcribing", "completed", "no speech in the audio (empty transcript, not billed)"]);
    const percents = lines.slice(0, 5).map((l) => Number(/(\d+)%/.exec(l)?.[1]));
    expect(percents).toEqual([0, 0, 5, 40, 100]);
    expect(out.text).toBe("\n");
  });
});
