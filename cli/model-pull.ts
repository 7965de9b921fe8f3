/**
 * npm run model:pull -- [<hub repo id>] [--revision R] [--dir models/NAME] [--quantization int8] [--base-config FILE]
 *
 * Downloads a Qwen3-ASR ONNX export from the Hugging Face Hub (HF_ENDPOINT for a mirror, HF_TOKEN for private
 * or gated repositories) and adapts it to the engine's contract; then `MODEL_DIR=models/NAME npm start`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { isEntryPoint } from "../shared/entry-point.js";
import { HubError, type FileProgress } from "../gpu-worker/model-hub/download.js";
import { pullModel } from "../gpu-worker/model-hub/pull.js";

/** The default: the smaller published size in the one public layout the engine runs (README, "Real model"). */
export const DEFAULT_REPO = "OpenVoiceOS/qwen3-asr-0.6b-onnx";

const USAGE = "usage: npm run model:pull -- [<hub repo id>] [--revision R] [--dir models/NAME] [--quantization int8] [--base-config FILE]";

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One line, redrawn in place on a terminal; otherwise a line per finished file (logs stay readable). */
export function progressBar(total: number, stream: Pick<NodeJS.WriteStream, "isTTY" | "write"> = process.stderr): (p: FileProgress) => void {
  const done = new Map<string, number>();
  const started = Date.now();
  let lastDraw = 0;
  let resumed = 0;
  return (p) => {
    if (!done.has(p.path)) resumed += p.resumedFrom;
    done.set(p.path, p.bytes);
    const finished = p.bytes === p.size;
    const now = Date.now();
    if (!stream.isTTY) {
      if (finished) stream.write(`${p.path}: ${mib(p.size)}${p.resumedFrom > 0 && p.resumedFrom < p.size ? ` (resumed at ${mib(p.resumedFrom)})` : ""}\n`);
      return;
    }
    if (!finished && now - lastDraw < 100) return;
    lastDraw = now;
    const bytes = [...done.values()].reduce((a, b) => a + b, 0);
    const fraction = total > 0 ? bytes / total : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const rate = (bytes - resumed) / Math.max(0.001, (now - started) / 1000);
    stream.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(100 * fraction).toFixed(0).padStart(3)} % ${mib(bytes)} / ${mib(total)} ${mib(rate)}/s ${p.path.slice(-40).padEnd(40)}`);
    if (bytes === total) stream.write("\n");
  };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { revision: { type: "string" }, dir: { type: "string" }, quantization: { type: "string" }, "base-config": { type: "string" }, help: { type: "boolean" } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const repo = parsed.positionals[0] ?? DEFAULT_REPO;
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    console.error(`"${repo}" is not a Hub repository id (owner/name)\n${USAGE}`);
    return 2;
  }
  const dir = resolve(parsed.values.dir ?? `models/${repo.split("/")[1]}`);
  const baseConfig = parsed.values["base-config"] ? (JSON.parse(readFileSync(parsed.values["base-config"], "utf8")) as object) : undefined;
  let onProgress: ((p: FileProgress) => void) | undefined;
  try {
    const result = await pullModel({
      source: { repo, revision: parsed.values.revision, hubUrl: env.HF_ENDPOINT || undefined, accessToken: env.HF_TOKEN || undefined },
      dir,
      quantization: parsed.values.quantization,
      baseConfig,
      onPlan: (plan, total) => {
        console.error(`${repo}: ${plan.layout} layout, ${plan.files.length} files, ${mib(total)}`);
        onProgress = progressBar(total);
      },
      onProgress: (p) => onProgress?.(p),
    });
    for (const w of result.warnings) console.error(`warning: ${w}`);
    console.log(`model ready in ${dir} (${result.downloaded.length} files downloaded, ${result.present.length} already present)`);
    console.log(`serve it with: MODEL_DIR=${dir} npm start`);
    return 0;
  } catch (error) {
    const code = error instanceof HubError ? error.code : (error as Error).name;
    console.error(`\nmodel:pull failed (${code}): ${(error as Error).message}`);
    return 1;
  }
}

if (isEntryPoint(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
