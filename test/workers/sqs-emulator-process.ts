/**
 * The SQS emulator for the workerd tests, in a Node process of its own: loaded through the pool's Vite module
 * runner instead, fauxqs's source maps (shipped without their sources) print a warning per file.
 * Prints `{ endpoint, queueUrl }` as one JSON line once listening; stops on SIGTERM.
 */
import { startLocalSqs } from "../../dev/sqs-emulator.js";

const sqs = await startLocalSqs({ queueName: process.argv[2] ?? "workers-test-jobs" });
process.stdout.write(`${JSON.stringify({ endpoint: sqs.endpoint, queueUrl: sqs.queueUrl })}\n`);
process.once("SIGTERM", () => void sqs.stop().finally(() => process.exit(0)));
