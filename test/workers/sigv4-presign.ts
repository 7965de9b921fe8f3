/**
 * An independent check of a SigV4 query-signed PUT URL (what S3 and R2 verify), written from AWS's
 * specification rather than with aws4fetch, so a presigned URL can be checked without an S3 server.
 */
export async function presignedPutIsValid(url: URL, secretAccessKey: string): Promise<boolean> {
  const query = new URLSearchParams(url.search);
  const signature = query.get("X-Amz-Signature");
  const credential = query.get("X-Amz-Credential");
  const amzDate = query.get("X-Amz-Date");
  if (!signature || !credential || !amzDate) return false;
  query.delete("X-Amz-Signature");
  const [, day, region, service] = credential.split("/");
  const canonicalQuery = [...query]
    .map(([name, value]) => [rfc3986(name), rfc3986(value)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? compareCodePoints(av, bv) : compareCodePoints(a, b)))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const canonicalRequest = ["PUT", url.pathname, canonicalQuery, `host:${url.host}`, "", "host", "UNSIGNED-PAYLOAD"].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, hex(await sha256(canonicalRequest))].join("\n");
  let key: ArrayBuffer = new TextEncoder().encode(`AWS4${secretAccessKey}`).buffer;
  for (const part of [day ?? "", region ?? "", service ?? "", "aws4_request"]) key = await hmac(key, part);
  return hex(await hmac(key, stringToSign)) === signature;
}

const rfc3986 = (text: string): string => encodeURIComponent(text).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
const compareCodePoints = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const hex = (bytes: ArrayBuffer): string => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = (text: string): Promise<ArrayBuffer> => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));

async function hmac(key: ArrayBuffer, text: string): Promise<ArrayBuffer> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", imported, new TextEncoder().encode(text));
}
