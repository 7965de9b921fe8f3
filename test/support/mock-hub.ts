/**
 * A local stand-in for the Hugging Face Hub: the routes @huggingface/hub uses to list and download a model
 * repository (`/api/models/{repo}/tree/{rev}`, `/{repo}/resolve/{rev}/{path}` with Range requests), serving
 * a folder. Files are LFS (sha256 listed) when they are .onnx or over 10 kB, like the Hub's defaults.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";

export interface MockHubOptions {
  /** repo id → folder served as that repository. */
  repos: Record<string, string>;
  /** Paths whose listed sha256 is wrong (the content no longer matches: a corrupted mirror). */
  corruptSha?: string[];
  /** path → bytes after which the first download of that path is cut (the connection is destroyed). */
  cutAfter?: Record<string, number>;
  /** Require this bearer token on every request. */
  token?: string;
}

export interface MockHub {
  url: string;
  /** Every request: method, url path, Range header. */
  requests: { method: string; path: string; range?: string; auth?: string }[];
  close(): Promise<void>;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

export async function startMockHub(options: MockHubOptions): Promise<MockHub> {
  const requests: MockHub["requests"] = [];
  const cut = new Map(Object.entries(options.cutAfter ?? {}));
  const repos = new Map(
    Object.entries(options.repos).map(([id, dir]) => {
      const files = new Map(walk(dir).map((p) => [relative(dir, p).split("\\").join("/"), readFileSync(p)]));
      return [id, files] as const;
    }),
  );
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? "/", "http://hub");
    requests.push({ method: req.method ?? "GET", path: url.pathname, range: req.headers.range, auth: req.headers.authorization });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ error: "Invalid credentials" }));
      return;
    }
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)/.exec(url.pathname);
    if (tree) {
      const files = repos.get(decodeURIComponent(tree[1]));
      if (!files) {
        res.writeHead(404, { "Content-Type": "application/json", "X-Error-Code": "RepoNotFound" }).end(JSON.stringify({ error: "Repository not found" }));
        return;
      }
      const entries = [...files].map(([path, data]) => {
        const lfs = path.endsWith(".onnx") || data.length > 10_000;
        const sha = createHash("sha256").update(data).digest("hex");
        const gitOid = createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
        const listedSha = options.corruptSha?.includes(path) ? createHash("sha256").update("something else").digest("hex") : sha;
        return { type: "file", path, size: data.length, oid: gitOid, ...(lfs ? { lfs: { oid: listedSha, size: data.length, pointerSize: 134 } } : {}) };
      });
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(entries));
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const files = resolve ? repos.get(decodeURIComponent(resolve[1])) : undefined;
    const data = resolve && files ? files.get(decodeURIComponent(resolve[3])) : undefined;
    if (!resolve || !data) {
      res.writeHead(404, { "Content-Type": "application/json", "X-Error-Code": "EntryNotFound" }).end(JSON.stringify({ error: "Entry not found" }));
      return;
    }
    const etag = `"${createHash("sha1").update(data).digest("hex")}"`;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
    const body = data.subarray(start, end + 1);
    const headers: Record<string, string> = { ETag: etag, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream", "Content-Length": String(body.length) };
    if (range) headers["Content-Range"] = `bytes ${start}-${end}/${data.length}`;
    res.writeHead(range ? 206 : 200, headers);
    const limit = cut.get(resolve[3]);
    if (limit !== undefined && body.length > 1 && start + body.length > limit) {
      cut.delete(resolve[3]);
      // Send up to the limit, then drop the connection mid-body, as a network failure would.
      res.write(body.subarray(0, Math.max(0, limit - start)), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
