import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Reads gpu-worker/Dockerfile and .dockerignore the way the deploy tests need them (no Docker here). */

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const dockerfilePath = fileURLToPath(new URL("../../gpu-worker/Dockerfile", import.meta.url));

export interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

/** Instructions with continuations joined and comment lines dropped (as Docker's parser does). */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current: { text: string; line: number } | null = null;
  text.split("\n").forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || (trimmed === "" && !current)) return;
    if (!current) current = { text: "", line: index + 1 };
    const continued = trimmed.endsWith("\\");
    current.text += (continued ? trimmed.slice(0, -1) : trimmed) + " ";
    if (!continued) {
      const match = /^(\S+)\s*([\s\S]*)$/.exec(current.text.trim());
      if (match) out.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: current.line });
      current = null;
    }
  });
  return out;
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === "FROM") {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith("--"));
      stages.push({ image: words[0], name: words[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === "ARG") {
        const [name, value] = ins.args.split("=", 2);
        globalArgs.set(name, value);
      }
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

export function readDockerfile(): ParsedDockerfile {
  return parseDockerfile(readFileSync(dockerfilePath, "utf8"));
}

/** The image a FROM names, with ${ARG} defaults filled in. */
export function resolveImage(image: string, args: Map<string, string | undefined>): string {
  return image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b) as string) ?? "");
}

/** The exec-form JSON array of an instruction (CMD, ENTRYPOINT, HEALTHCHECK … CMD). */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf("["));
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string")) throw new Error(`not an exec form: ${args}`);
  return parsed as string[];
}

/** ENV key=value pairs of a stage, later ones winning, with ${VAR} from the stage's ARG defaults. */
export function stageEnv(stage: Stage): Record<string, string> {
  const args = new Map<string, string | undefined>();
  const env: Record<string, string> = {};
  for (const ins of stage.instructions) {
    if (ins.keyword === "ARG") {
      const [name, value] = ins.args.split("=", 2);
      args.set(name, value);
    }
    if (ins.keyword === "ENV") {
      for (const match of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) {
        env[match[1]] = resolveImage(match[2].replace(/^"|"$/g, ""), args);
      }
    }
  }
  return env;
}

/** Sources of the stage's COPY instructions that read the build context (not another stage). */
export function contextCopies(stage: Stage): { sources: string[]; dest: string }[] {
  return stage.instructions
    .filter((i) => i.keyword === "COPY" && !/--from=/.test(i.args))
    .map((i) => {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith("--"));
      return { sources: words.slice(0, -1), dest: words[words.length - 1] };
    });
}

/**
 * .dockerignore semantics, enough for this repository (moby's patternmatcher): patterns relative to the context
 * root, `*` within one path segment, `**` across segments, `!` re-includes; a rule matches a path or any of
 * its parent folders, and the last matching rule decides. Returns whether a path is left out of the context.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const include = l.startsWith("!");
      const pattern = (include ? l.slice(1) : l).replace(/^\/+|\/+$/g, "");
      const source = pattern
        .split("/")
        .map((seg) => (seg === "**" ? "\u0000" : seg.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")))
        .join("/")
        .replace(/\u0000\//g, "(?:.*/)?")
        .replace(/\u0000/g, ".*");
      return { include, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const parts = path.replace(/^\.\/|\/$/g, "").split("/");
    const selfAndParents = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const rule of rules) if (selfAndParents.some((p) => rule.regex.test(p))) excluded = !rule.include;
    return excluded;
  };
}
