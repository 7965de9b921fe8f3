/**
 * The backend half of a browser upload: it keeps the secret API key and hands the page a short-lived browser token.
 *
 *   API_URL=http://127.0.0.1:8787 API_KEY=sk_live_… npx tsx examples/browser-upload/server.ts
 *
 * then open http://127.0.0.1:3000 (add that origin to CORS_ORIGINS or to the key's allowed_origins first).
 * In a real app, /token sits behind your own login: it is what stands between strangers and your key's quota.
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";

export interface ExampleServerOptions {
  /** Where the transcription API is, as the browser will reach it. */
  apiUrl: string;
  /** The secret key: it stays on this server. */
  apiKey: string;
  port?: number;
  host?: string;
  /** Bind each token to this page's origin (default), so it is useless from any other site. */
  bindToOrigin?: boolean;
  /** This site's origin as browsers see it (behind a proxy or on https); by default http:// and the Host header. */
  publicOrigin?: string;
}

export interface ExampleServer {
  url: string;
  close(): Promise<void>;
}

/** The few lines that matter: POST /v1/tokens with the secret key, the page's origin, a short lifetime. */
async function mintToken(options: ExampleServerOptions, pageOrigin: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${options.apiUrl}/v1/tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ expires_in: 600, ...(options.bindToOrigin === false ? {} : { origin: pageOrigin }) }),
  });
  const minted = (await response.json()) as { token?: string; expires_at?: string };
  if (!response.ok) return { status: 502, body: JSON.stringify(minted) };
  return { status: 200, body: JSON.stringify({ token: minted.token, expires_at: minted.expires_at, api_url: options.apiUrl }) };
}

export async function startExampleServer(options: ExampleServerOptions): Promise<ExampleServer> {
  const page = await readFile(new URL("index.html", import.meta.url));
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/" || req.url === "/index.html")) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
      return;
    }
    if (req.method === "POST" && req.url === "/token") {
      const pageOrigin = options.publicOrigin ?? `http://${req.headers.host}`;
      mintToken(options, pageOrigin).then(
        ({ status, body }) => res.writeHead(status, { "Content-Type": "application/json" }).end(body),
        (error: unknown) => res.writeHead(502, { "Content-Type": "application/json" }).end(JSON.stringify({ error: String(error) })),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 3000, options.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const apiKey = process.env.API_KEY;
  if (!apiKey) throw new Error("set API_KEY to a secret key (sk_live_…)");
  const server = await startExampleServer({
    apiUrl: process.env.API_URL ?? "http://127.0.0.1:8787",
    apiKey,
    port: Number(process.env.PORT ?? 3000),
    publicOrigin: process.env.PUBLIC_ORIGIN,
  });
  console.log(`open ${server.url}`);
}
