import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBrowserEdge, type BrowserEdge } from "../support/browser-edge.js";

const speech = new Uint8Array(readFileSync(new URL("../fixtures/audio/speech.wav", import.meta.url)));
const APP = "https://app.example";

interface MintedToken {
  object: string;
  id: string;
  token: string;
  origin: string | null;
  expires_at: string;
  revoked_at: string | null;
  scope: string[];
}
const code = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

describe("browser tokens", () => {
  let edge: BrowserEdge;
  beforeAll(async () => {
    edge = await startBrowserEdge({ cors: { origins: [APP] }, rateLimits: { requestsPerMinute: 10_000 }, browserTokens: { ttlSeconds: 300, maxTtlSeconds: 900 } });
  });
  afterAll(async () => edge?.close());

  const mint = async (body: Record<string, unknown> = {}, key = edge.apiKey): Promise<MintedToken> => {
    const res = await edge.request("/v1/tokens", { key, method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as MintedToken;
  };
  /** POST /v1/uploads, PUT the file, create the job: what a page does with its token. */
  const uploadAndCreate = async (key: string, headers: Record<string, string> = {}) => {
    const created = await edge.request("/v1/uploads", { key, method: "POST", headers });
    expect(created.status, await created.clone().text()).toBe(200);
    const upload = (await created.json()) as { upload_id: string; url: string };
    const put = await fetch(upload.url, { method: "PUT", body: speech, headers: { "Content-Type": "audio/wav", ...headers } });
    expect(put.status).toBe(200);
    const job = await edge.request("/v1/transcriptions", {
      key,
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ upload_id: upload.upload_id }),
    });
    expect(job.status, await job.clone().text()).toBe(202);
    return { uploadId: upload.upload_id, jobId: ((await job.json()) as { id: string }).id };
  };
  const multipart = () => {
    const form = new FormData();
    form.append("file", new Blob([speech], { type: "audio/wav" }), "speech.wav");
    return form;
  };

  it("is minted by the secret key: short-lived by default, shown once, with its scope", async () => {
    const before = edge.clock.now.getTime();
    const minted = await mint();
    expect(minted.object).toBe("browser_token");
    expect(minted.token).toMatch(/^bt_[0-9A-Za-z]{32}$/);
    expect(minted.id).toMatch(/^btk_[0-9a-z]{24}$/);
    expect(new Date(minted.expires_at).getTime() - before).toBe(300_000);
    expect(minted.origin).toBeNull();
    expect(minted.scope).toEqual(["uploads:create", "transcriptions:create", "transcriptions:read"]);
    expect(new Date((await mint({ expires_in: 60 })).expires_at).getTime() - before).toBe(60_000);
  });

  it("is minted without a body too", async () => {
    const res = await edge.request("/v1/tokens", { method: "POST" });
    expect(res.status).toBe(201);
    expect(((await res.json()) as MintedToken).token).toMatch(/^bt_/);
  });

  it("replays an idempotent create only to the token that made the job", async () => {
    const first = await mint();
    const second = await mint();
    const create = (key: string) => edge.request("/v1/transcriptions", { key, method: "POST", headers: { "Idempotency-Key": "page-retry-1" }, body: multipart() });
    const made = await create(first.token);
    expect(made.status).toBe(202);
    const id = ((await made.json()) as { id: string }).id;
    const again = await create(first.token);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(((await again.json()) as { id: string }).id).toBe(id);
    // Another token of the key, same key and body: not handed the first token's job.
    const foreign = await create(second.token);
    expect(foreign.status).toBe(409);
    expect((await edge.request(`/v1/transcriptions/${id}`, { key: second.token })).status).toBe(404);
  });

  it("refuses lifetimes past the maximum and origins that are not allowed for the key", async () => {
    const post = (body: unknown) => edge.request("/v1/tokens", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    expect((await post({ expires_in: 901 })).status).toBe(400);
    expect((await post({ expires_in: 0 })).status).toBe(400);
    const notOrigin = await post({ origin: "https://app.example/page" });
    expect(notOrigin.status).toBe(400);
    expect((await code(notOrigin)).message).toMatch(/origin/);
    expect((await post({ origin: "https://elsewhere.example" })).status).toBe(400);
    // The configured origin, and the key's own one.
    expect((await mint({ origin: APP })).origin).toBe(APP);
    expect((await mint({ origin: "https://key-app.example" })).origin).toBe("https://key-app.example");
    // The other key does not list key-app.example.
    const other = await edge.request("/v1/tokens", {
      key: edge.otherKey,
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ origin: "https://key-app.example" }),
    });
    expect(other.status).toBe(400);
  });

  it("uploads, creates a job from its upload and reads that job; the parent key sees the job too", async () => {
    const { token } = await mint();
    const { jobId } = await uploadAndCreate(token);
    const read = await edge.request(`/v1/transcriptions/${jobId}`, { key: token });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { status: string }).status).toBe("queued");
    // The transcript route is in scope; the job has not run (no worker here).
    const transcript = await edge.request(`/v1/transcriptions/${jobId}/transcript`, { key: token });
    expect(transcript.status).toBe(409);
    expect((await edge.request(`/v1/transcriptions/${jobId}`)).status).toBe(200);
    expect((await edge.request(`/v1/transcriptions/${jobId}`, { key: edge.otherKey })).status).toBe(404);

    const direct = await edge.request("/v1/transcriptions", { key: token, method: "POST", body: multipart() });
    expect(direct.status).toBe(202);
    const directId = ((await direct.json()) as { id: string }).id;
    expect((await edge.request(`/v1/transcriptions/${directId}`, { key: token })).status).toBe(200);
  });

  it("never reads the key's other jobs or another token's, nor uses their uploads", async () => {
    const { token } = await mint();
    const { token: otherToken } = await mint();
    const parent = await uploadAndCreate(edge.apiKey);
    const sibling = await uploadAndCreate(otherToken);
    for (const id of [parent.jobId, sibling.jobId]) {
      expect((await edge.request(`/v1/transcriptions/${id}`, { key: token })).status).toBe(404);
      expect((await edge.request(`/v1/transcriptions/${id}/transcript`, { key: token })).status).toBe(404);
    }
    // An upload made by the parent key (not yet a job), by id.
    const upload = (await (await edge.request("/v1/uploads", { method: "POST" })).json()) as { upload_id: string; url: string };
    await fetch(upload.url, { method: "PUT", body: speech });
    const stolen = await edge.request("/v1/transcriptions", {
      key: token,
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ upload_id: upload.upload_id }),
    });
    expect(stolen.status).toBe(404);
    // …which the parent key can still use.
    const own = await edge.request("/v1/transcriptions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ upload_id: upload.upload_id }) });
    expect(own.status).toBe(202);
  });

  it("is refused everything outside its scope with 403, and the admin API with 401", async () => {
    const { token, id } = await mint();
    const { jobId } = await uploadAndCreate(token);
    const json = { "Content-Type": "application/json" };
    const refused: Array<[string, RequestInit]> = [
      ["/v1/tokens", { method: "POST", headers: json, body: "{}" }],
      [`/v1/tokens/${id}`, { method: "DELETE" }],
      ["/v1/transcriptions", { method: "GET" }],
      [`/v1/transcriptions/${jobId}`, { method: "DELETE" }],
      [`/v1/transcriptions/${jobId}/webhooks`, { method: "GET" }],
      ["/v1/usage", { method: "GET" }],
      ["/v1/webhooks/secret", { method: "GET" }],
      ["/v1/audio/transcriptions", { method: "POST", body: multipart() }],
    ];
    for (const [path, init] of refused) {
      const res = await edge.request(path, { ...init, key: token });
      expect(res.status, `${init.method} ${path}`).toBe(403);
    }
    for (const body of [{ audio_url: "https://example.com/a.mp3" }, { upload_id: "up_x", webhook_url: "https://example.com/hook" }]) {
      const res = await edge.request("/v1/transcriptions", { key: token, method: "POST", headers: json, body: JSON.stringify(body) });
      expect(res.status).toBe(403);
    }
    const withHook = multipart();
    withHook.append("webhook_url", "https://example.com/hook");
    expect((await edge.request("/v1/transcriptions", { key: token, method: "POST", body: withHook })).status).toBe(403);
    expect((await edge.request("/v1/admin/keys", { key: token })).status).toBe(401);
    // The job is still there, not deleted by the refused DELETE.
    expect((await edge.request(`/v1/transcriptions/${jobId}`, { key: token })).status).toBe(200);
  });

  it("gets 401 once expired or revoked, or when its key is revoked", async () => {
    const { token } = await mint({ expires_in: 60 });
    expect((await edge.request("/v1/uploads", { key: token, method: "POST" })).status).toBe(200);
    const start = edge.clock.now;
    try {
      edge.clock.now = new Date(start.getTime() + 60_000);
      const expired = await edge.request("/v1/uploads", { key: token, method: "POST" });
      expect(expired.status).toBe(401);
      expect((await code(expired)).message).toMatch(/expired/);
    } finally {
      edge.clock.now = start;
    }

    const revocable = await mint();
    const revoked = await edge.request(`/v1/tokens/${revocable.id}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as MintedToken).revoked_at).not.toBeNull();
    expect((await edge.request("/v1/uploads", { key: revocable.token, method: "POST" })).status).toBe(401);
    // Another key cannot revoke it (nor learn that it exists).
    const foreign = await mint();
    expect((await edge.request(`/v1/tokens/${foreign.id}`, { key: edge.otherKey, method: "DELETE" })).status).toBe(404);
    expect((await edge.request("/v1/uploads", { key: foreign.token, method: "POST" })).status).toBe(200);

    const otherKeyToken = await mint({}, edge.otherKey);
    const keys = (await (await fetch(`${edge.url}/v1/admin/keys`, { headers: { Authorization: `Bearer ${edge.adminToken}` } })).json()) as {
      data: Array<{ id: string; name: string }>;
    };
    const otherId = keys.data.find((k) => k.name === "browser-other")?.id;
    await fetch(`${edge.url}/v1/admin/keys/${otherId}`, { method: "DELETE", headers: { Authorization: `Bearer ${edge.adminToken}` } });
    expect((await edge.request("/v1/uploads", { key: otherKeyToken.token, method: "POST" })).status).toBe(401);
  });

  it("bound to an origin, works only from that origin", async () => {
    const { token } = await mint({ origin: APP });
    expect((await edge.request("/v1/uploads", { key: token, method: "POST" })).status).toBe(403);
    expect((await edge.request("/v1/uploads", { key: token, method: "POST", headers: { Origin: "https://key-app.example" } })).status).toBe(403);
    const { jobId } = await uploadAndCreate(token, { Origin: APP });
    expect((await edge.request(`/v1/transcriptions/${jobId}`, { key: token, headers: { Origin: APP } })).status).toBe(200);
  });

  it("is rate-limited and metered under its parent key", async () => {
    const { token } = await mint();
    const remaining = async (res: Response) => Number(res.headers.get("ratelimit-remaining"));
    // Writes share one budget per key (reads have their own): the key's, the token's, the key's again.
    const first = await remaining(await edge.request("/v1/uploads", { method: "POST" }));
    const viaToken = await remaining(await edge.request("/v1/uploads", { key: token, method: "POST" }));
    const after = await remaining(await edge.request("/v1/uploads", { method: "POST" }));
    expect([viaToken, after]).toEqual([first - 1, first - 2]);

    // A quota of nothing left on the parent refuses the token's job.
    const admin = { Authorization: `Bearer ${edge.adminToken}`, "Content-Type": "application/json" };
    const patched = await fetch(`${edge.url}/v1/admin/keys/${edge.apiKeyId}`, { method: "PATCH", headers: admin, body: JSON.stringify({ monthly_audio_seconds_quota: 0 }) });
    expect(patched.status).toBe(200);
    try {
      const refused = await edge.request("/v1/transcriptions", { key: token, method: "POST", body: multipart() });
      expect(refused.status).toBe(429);
      expect((await code(refused)).code).toBe("quota_exceeded");
    } finally {
      await fetch(`${edge.url}/v1/admin/keys/${edge.apiKeyId}`, { method: "PATCH", headers: admin, body: JSON.stringify({ monthly_audio_seconds_quota: null }) });
    }
  });

  it("lets the admin API set a key's allowed origins", async () => {
    const admin = { Authorization: `Bearer ${edge.adminToken}`, "Content-Type": "application/json" };
    const bad = await fetch(`${edge.url}/v1/admin/keys/${edge.apiKeyId}`, { method: "PATCH", headers: admin, body: JSON.stringify({ allowed_origins: ["not an origin"] }) });
    expect(bad.status).toBe(400);
    const set = await fetch(`${edge.url}/v1/admin/keys/${edge.apiKeyId}`, {
      method: "PATCH",
      headers: admin,
      body: JSON.stringify({ allowed_origins: ["https://Key-App.example", "https://second.example"] }),
    });
    expect(((await set.json()) as { allowed_origins: string[] }).allowed_origins).toEqual(["https://key-app.example", "https://second.example"]);
    expect((await mint({ origin: "https://second.example" })).origin).toBe("https://second.example");
  });
});
