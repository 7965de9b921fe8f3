import { startFauxqs } from "fauxqs";
import { isEntryPoint } from "../shared/entry-point.js";

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
  /** S3 buckets to create: fauxqs serves the S3 API on the same endpoint (path-style URLs). */
  buckets?: string[];
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
  for (const bucket of options.buckets ?? []) server.createBucket(bucket);
  // fauxqs names queues with a host that does not resolve; clients use the explicit endpoint instead.
  return { endpoint, queueUrl: queue.queueUrl, deadLetterQueueUrl: dlq.queueUrl, stop: () => server.stop() };
}

// `npm run sqs:local` (for `npm run worker:dev`): the queue on http://127.0.0.1:4566 (SQS_PORT overrides) and the
// bucket qwen3-asr-uploads on the same endpoint's S3 API, until Ctrl-C.
if (isEntryPoint(import.meta.url)) {
  const sqs = await startLocalSqs({ port: Number(process.env.SQS_PORT ?? 4566), buckets: ["qwen3-asr-uploads"] });
  process.stdout.write(
    [
      `SQS and S3 emulator on ${sqs.endpoint}; for .dev.vars:`,
      `SQS_ENDPOINT=${sqs.endpoint}`,
      `SQS_QUEUE_URL=${sqs.queueUrl}`,
      `R2_S3_ENDPOINT=${sqs.endpoint}`,
      "",
    ].join("\n"),
  );
  const stop = () => void sqs.stop().finally(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
