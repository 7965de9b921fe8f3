import { startFauxqs } from "fauxqs";

export interface LocalSqs {
  endpoint: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  stop(): Promise<void>;
}

export interface LocalSqsOptions {
  port?: number;
  queueName?: string;
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
}

/**
 * The local SQS: fauxqs on loopback with the job queue and its dead-letter queue (redrive after
 * maxReceiveCount receives), as production has. State is in memory; the sweeper re-enqueues after a restart.
 */
export async function startLocalSqs(options: LocalSqsOptions = {}): Promise<LocalSqs> {
  const name = options.queueName ?? "transcription-jobs";
  const server = await startFauxqs({ port: options.port ?? 0, host: "127.0.0.1", logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const dlq = server.createQueue(`${name}-dlq`, { attributes: { MessageRetentionPeriod: "1209600" } });
  const queue = server.createQueue(name, {
    attributes: {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 60),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: options.maxReceiveCount ?? 5 }),
    },
  });
  // fauxqs names queues with a host that does not resolve; clients use the explicit endpoint instead.
  return { endpoint, queueUrl: queue.queueUrl, deadLetterQueueUrl: dlq.queueUrl, stop: () => server.stop() };
}
