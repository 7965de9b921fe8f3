#!/usr/bin/env node
// `npx asr transcribe FILE --wait`: runs the TypeScript CLI through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { transcribeCommand } = await import("../cli/transcribe.ts");
process.exit(await transcribeCommand(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`error: ${error.message}\n`);
  return 1;
}));
