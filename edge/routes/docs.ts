import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env.js";

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Qwen3-ASR API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.6rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{color:#1a7f37}.post{color:#0969da}.delete{color:#cf222e}
code,pre{background:#f6f8fa;border-radius:4px;padding:.1rem .3rem}pre{padding:.6rem;overflow:auto}
small{color:#666}
</style></head><body>
<h1>Qwen3-ASR transcription API</h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Every <code>/v1</code> route needs
<code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>{"error":{"code","message"}}</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch("/openapi.json").then(r => r.json()).then(spec => {
  const out = [];
  const esc = s => String(s ?? "").replace(/[&<>]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;"}[c]));
  const byTag = {};
  for (const [path, ops] of Object.entries(spec.paths)) for (const [method, op] of Object.entries(ops)) {
    (byTag[(op.tags || ["Other"])[0]] ||= []).push({ path, method, op });
  }
  for (const [tag, list] of Object.entries(byTag)) {
    out.push("<h2>" + esc(tag) + "</h2>");
    for (const { path, method, op } of list) {
      const params = (op.parameters || []).map(p => "<li><code>" + esc(p.name) + "</code> <small>" + esc(p.in) + (p.required ? ", required" : "") + "</small> " + esc(p.description || "") + "</li>").join("");
      const body = op.requestBody ? Object.keys(op.requestBody.content).map(t => "<code>" + esc(t) + "</code>").join(" or ") : "";
      const responses = Object.entries(op.responses || {}).map(([s, r]) => "<li><code>" + s + "</code> " + esc(r.description) + "</li>").join("");
      out.push('<div class="op"><span class="m ' + method + '">' + method + "</span> <code>" + esc(path) + "</code><p>" + esc(op.summary) + "</p>" +
        (op.description ? "<p><small>" + esc(op.description) + "</small></p>" : "") +
        (params ? "<b>Parameters</b><ul>" + params + "</ul>" : "") + (body ? "<b>Body</b>: " + body : "") +
        "<b>Responses</b><ul>" + responses + "</ul></div>");
    }
  }
  document.getElementById("ops").innerHTML = out.join("");
});
</script></body></html>`;

/** The OpenAPI document generated from the route declarations, and a small page that renders it. */
export function docsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "API key (sk_live_…)" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Qwen3-ASR transcription API",
      version: "1.0.0",
      description: "Asynchronous speech-to-text jobs, an OpenAI-compatible endpoint, usage and webhooks.",
    },
    security: [{ bearer: [] }],
  });
  app.get("/docs", (c) => c.html(DOCS_PAGE));
}
