/** `npm run model:pull`: list → pick the layout's files → download (resumable, verified) → adapt. */
import { join } from "node:path";
import { adaptModel, type AdaptOptions } from "./adapt.js";
import { downloadHubFile, guardedFetch, listHubFiles, type FileProgress, type HubSource } from "./download.js";
import { planLayout, type LayoutPlan } from "./layout.js";

export interface PullOptions {
  source: HubSource;
  /** The model directory to write; the repository's files are kept under `<dir>/.hub/`. */
  dir: string;
  quantization?: string;
  baseConfig?: AdaptOptions["baseConfig"];
  onPlan?: (plan: LayoutPlan, totalBytes: number) => void;
  onProgress?: (progress: FileProgress) => void;
  fetch?: typeof fetch;
}

export interface PullResult {
  plan: LayoutPlan;
  downloaded: string[];
  present: string[];
  warnings: string[];
}

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const fetchImpl = options.fetch ?? guardedFetch(options.source);
  const listed = await listHubFiles(options.source, fetchImpl);
  const plan = planLayout(
    listed.map((f) => f.path),
    options.quantization,
  );
  const wanted = listed.filter((f) => plan.files.includes(f.path));
  options.onPlan?.(plan, wanted.reduce((s, f) => s + f.size, 0));
  const rawDir = join(options.dir, ".hub");
  const downloaded: string[] = [];
  const present: string[] = [];
  for (const file of wanted) {
    const outcome = await downloadHubFile(options.source, file, rawDir, options.onProgress, fetchImpl);
    (outcome === "present" ? present : downloaded).push(file.path);
  }
  const { warnings } = await adaptModel(rawDir, options.dir, plan, {
    baseConfig: options.baseConfig,
    quantization: options.quantization,
    source: { repo: options.source.repo, revision: options.source.revision ?? "main", hub: options.source.hubUrl ?? "https://huggingface.co" },
  });
  return { plan, downloaded, present, warnings };
}
