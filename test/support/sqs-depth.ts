import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { createSqsClient } from "../../shared/adapters/sqs.js";

/**
 * Messages in a queue, visible, in flight or delayed: 0 once every delivery has been acknowledged. Tests wait
 * for this instead of sleeping "long enough" for workers to take duplicates.
 */
export async function queuedMessages(sqs: { queueUrl: string; endpoint: string }): Promise<number> {
  const client = createSqsClient({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint });
  try {
    const { Attributes: a = {} } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: sqs.queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
      }),
    );
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  } finally {
    client.destroy();
  }
}
