import { AwsClient } from "aws4fetch";

/** One upload the client may PUT: where it will be stored, until when, and how large it may be. */
export interface UploadTarget {
  uploadId: string;
  /** Blob key the object is stored under. */
  key: string;
  expiresAt: Date;
  maxBytes: number;
}

/**
 * Makes the URL a client PUTs an upload to. "bucket": straight to S3/R2 (a SigV4 presigned URL; the body never
 * passes through the API, so it may exceed Workers' request limit). "relay": back to this API's
 * `PUT /v1/uploads/{id}?token=…`, which streams it into the blob store (local runs with the filesystem store).
 */
export interface UploadSigner {
  readonly kind: "bucket" | "relay";
  /** `apiOrigin` is the origin the create request reached; relay URLs point back there. */
  signPut(target: UploadTarget, apiOrigin: string): Promise<string>;
}

export interface S3PresignOptions {
  /** The S3-compatible endpoint; for R2: https://<account id>.r2.cloudflarestorage.com */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** R2 signs with "auto". */
  region?: string;
  now?: () => Date;
}

/** SigV4 query-signed PUT URLs (path style, which R2 and S3 both take). Only the host header is signed. */
export class S3PresignedUploads implements UploadSigner {
  readonly kind = "bucket";
  private readonly client: AwsClient;

  constructor(private readonly options: S3PresignOptions) {
    this.client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      service: "s3",
      region: options.region ?? "auto",
    });
  }

  async signPut(target: UploadTarget): Promise<string> {
    const now = this.options.now?.() ?? new Date();
    const url = new URL(`${this.options.endpoint.replace(/\/+$/, "")}/${this.options.bucket}/${target.key}`);
    url.searchParams.set("X-Amz-Expires", String(Math.max(1, Math.ceil((target.expiresAt.getTime() - now.getTime()) / 1000))));
    const signed = await this.client.sign(url.toString(), { method: "PUT", aws: { signQuery: true, datetime: amzDate(now) } });
    return signed.url;
  }
}

/** SigV4's timestamp format: 20261125T093000Z. */
const amzDate = (at: Date): string => at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");

interface RelayClaims {
  u: string; // upload id
  k: string; // blob key
  e: number; // expiry, Unix seconds
  m: number; // most bytes accepted
}

/**
 * Relay URLs carry an HMAC-SHA256 token over what the PUT may do (which upload, which key, until when, how many
 * bytes), so the PUT needs no API key and no state is kept between the two requests.
 */
export class EdgeRelayUploads implements UploadSigner {
  readonly kind = "relay";
  private readonly key: Promise<CryptoKey>;

  /** `publicBaseUrl` overrides the request's origin when the API sits behind a proxy that rewrites it. */
  constructor(secret: string, private readonly publicBaseUrl?: string) {
    if (secret.length < 16) throw new Error("the upload signing secret must be at least 16 characters");
    this.key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  }

  async signPut(target: UploadTarget, apiOrigin: string): Promise<string> {
    const claims: RelayClaims = { u: target.uploadId, k: target.key, e: Math.floor(target.expiresAt.getTime() / 1000), m: target.maxBytes };
    const payload = base64url(new TextEncoder().encode(JSON.stringify(claims)));
    const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await this.key, new TextEncoder().encode(payload)));
    const base = (this.publicBaseUrl ?? apiOrigin).replace(/\/+$/, "");
    return `${base}/v1/uploads/${encodeURIComponent(target.uploadId)}?token=${payload}.${base64url(signature)}`;
  }

  /** The upload a token allows, or null when it is forged, expired, or for another upload id. */
  async verify(uploadId: string, token: string, now: Date): Promise<UploadTarget | null> {
    const [payload, signature, extra] = token.split(".");
    if (!payload || !signature || extra !== undefined) return null;
    const signatureBytes = fromBase64url(signature);
    if (!signatureBytes) return null;
    // crypto.subtle.verify compares in constant time.
    const valid = await crypto.subtle.verify("HMAC", await this.key, signatureBytes, new TextEncoder().encode(payload));
    if (!valid) return null;
    const claims = JSON.parse(new TextDecoder().decode(fromBase64url(payload) ?? new Uint8Array())) as RelayClaims;
    if (claims.u !== uploadId || claims.e * 1000 <= now.getTime()) return null;
    return { uploadId: claims.u, key: claims.k, expiresAt: new Date(claims.e * 1000), maxBytes: claims.m };
  }
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null; // a length no base64 text has
  }
}
