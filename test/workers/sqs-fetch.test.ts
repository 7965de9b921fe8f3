/** SqsFetchQueue (what the Worker sends jobs with) against the SQS emulator, checked with the AWS SDK. Runs in Node. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalSqs, type LocalSqs } from "../../dev/sqs-emulator.js";
import { sqsJobQueue } from "../../shared/adapters/sqs.js";
import { SqsFetchQueue, SqsRequestError } from "../../shared/adapters/sqs-fetch.js";
import { jobMessage } from "../../shared/queue.js";

describe("SQS over fetch + SigV4 (aws4fetch)", () => {
  let sqs: LocalSqs;
  beforeAll(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    sqs = await startLocalSqs({ queueName: "sqs-fetch-test" });
  });
  afterAll(() => sqs.stop());

  const queue = (queueUrl = sqs.queueUrl) =>
    new SqsFetchQueue({ queueUrl, endpoint: sqs.endpoint, region: "us-east-1", accessKeyId: "local", secretAccessKey: "local" });

  it("sends a message the AWS SDK receives", async () => {
    await queue().send(jobMessage("tr_sent_over_fetch"));
    const receiver = sqsJobQueue({ queueUrl: sqs.queueUrl, endpoint: sqs.endpoint, region: "us-east-1" });
    const [message] = await receiver.receive(1, 2);
    expect(JSON.parse(message?.body ?? "null")).toMatchObject({ v: 1, jobId: "tr_sent_over_fetch" });
  });

  it("throws SQS's error type when the queue does not exist", async () => {
    const missing = sqs.queueUrl.replace(/[^/]+$/, "no-such-queue");
    const error = await queue(missing).send(jobMessage("tr_lost")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqsRequestError);
    expect(error).toMatchObject({ status: 400, type: "QueueDoesNotExist" });
  });
});
