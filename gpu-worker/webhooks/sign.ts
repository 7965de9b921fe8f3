import { Webhook } from "standardwebhooks";

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** Standard Webhooks signature over `${id}.${timestamp}.${body}` with the key's `whsec_` secret. */
export function signWebhook(secret: string, messageId: string, at: Date, body: string): SignedHeaders {
  const signature = new Webhook(secret).sign(messageId, at, body);
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signature,
  };
}
