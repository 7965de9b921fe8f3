import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { JobMessage, JobQueue, JobQueueReceiver, ReceivedMessage } from "../queue.js";

export interface SqsOptions {
  queueUrl: string;
  region?: string;
  /** Explicit endpoint (local emulator, VPC endpoint). The queue URL's host is not used as one. */
  endpoint?: string;
}

export function createSqsClient(options: SqsOptions): SQSClient {
  return new SQSClient({
    region: options.region ?? process.env.AWS_REGION ?? "us-east-1",
    ...(options.endpoint
      ? { endpoint: options.endpoint, credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "local", secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "local" } }
      : {}),
  });
}

/** A job queue on the SQS queue at `options.queueUrl`. */
export function sqsJobQueue(options: SqsOptions): SqsJobQueue {
  return new SqsJobQueue(createSqsClient(options), options.queueUrl);
}

/** SQS through the AWS SDK, both directions. */
export class SqsJobQueue implements JobQueue, JobQueueReceiver {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: JobMessage): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }));
  }

  async receive(max: number, waitSeconds: number, signal?: AbortSignal, visibilitySeconds?: number): Promise<ReceivedMessage[]> {
    const out = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
        ...(visibilitySeconds !== undefined ? { VisibilityTimeout: visibilitySeconds } : {}),
      }),
      { abortSignal: signal },
    );
    return (out.Messages ?? []).map((m) => ({
      messageId: m.MessageId ?? "",
      receiptHandle: m.ReceiptHandle ?? "",
      body: m.Body ?? "",
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? "1"),
    }));
  }

  async setVisibility(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }));
  }
}
