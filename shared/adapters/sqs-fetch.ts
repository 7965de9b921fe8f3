import { AwsClient } from "aws4fetch";
import type { JobMessage, JobQueue } from "../queue.js";

export interface SqsFetchOptions {
  queueUrl: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Where requests go: an emulator or a VPC endpoint. Default: the regional endpoint, https://sqs.<region>.amazonaws.com. */
  endpoint?: string;
  fetch?: typeof fetch;
}

/** What SQS's JSON protocol answers on failure: `{ "__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "…" }`. */
interface SqsErrorBody {
  __type?: string;
  message?: string;
  Message?: string;
}

export class SqsRequestError extends Error {
  override readonly name = "SqsRequestError";
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The sending side of the job queue over plain fetch and SigV4 (aws4fetch on SubtleCrypto): small, and made for
 * Workers, where the AWS SDK has broken before. SQS's JSON protocol: one POST per action, named by X-Amz-Target.
 */
export class SqsFetchQueue implements JobQueue {
  private readonly client: AwsClient;
  private readonly endpoint: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: SqsFetchOptions) {
    // service and region are explicit: aws4fetch can only guess them from *.amazonaws.com hosts, not an emulator's.
    this.client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      sessionToken: options.sessionToken,
      service: "sqs",
      region: options.region,
    });
    this.endpoint = options.endpoint ?? `https://sqs.${options.region}.amazonaws.com/`;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async send(message: JobMessage): Promise<void> {
    await this.call("SendMessage", { QueueUrl: this.options.queueUrl, MessageBody: JSON.stringify(message) });
  }

  private async call(action: string, body: Record<string, unknown>): Promise<unknown> {
    const request = await this.client.sign(this.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": `AmazonSQS.${action}` },
      body: JSON.stringify(body),
    });
    // One attempt: a failed send leaves the job's outbox row unsent, and the relay sends it later.
    const response = await this.fetch(request);
    // Decoded by hand: workerd warns when text() reads a body whose type is not text/* (here application/x-amz-json-1.0).
    const text = new TextDecoder().decode(await response.arrayBuffer());
    const parsed = parseJson(text);
    if (!response.ok) {
      const error = parsed as SqsErrorBody;
      const type = error.__type?.split("#").pop() ?? "UnknownError";
      throw new SqsRequestError(response.status, type, `SQS ${action} failed (${response.status} ${type}): ${error.message ?? error.Message ?? text.slice(0, 200)}`);
    }
    return parsed;
  }
}

/** Proxies and load balancers answer errors in HTML: keep the text for the message instead of throwing on it. */
function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return {};
  }
}
