/**
 * npm run keys -- create --name "Acme" [--rate-limit 120] [--quota-hours 10]
 * npm run keys -- list
 * npm run keys -- revoke <key id>
 *
 * Talks to the database directly (DATABASE_URL, or the local embedded one). Keys are printed once.
 */
import { parseArgs } from "node:util";
import { apiKeyView, listApiKeys, revokeApiKey } from "../edge/store/api-key-admin.js";
import { createApiKey } from "../edge/store/api-keys.js";
import { openLocalOrEnvDatabase } from "./local-database.js";

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: "string" }, "rate-limit": { type: "string" }, "quota-hours": { type: "string" }, json: { type: "boolean" } },
  });
  const [command, arg] = positionals;
  if (!command || !["create", "list", "revoke"].includes(command)) {
    process.stderr.write("usage: npm run keys -- create --name NAME [--rate-limit N] [--quota-hours H] | list | revoke ID\n");
    return 2;
  }
  const database = await openLocalOrEnvDatabase();
  try {
    if (command === "create") {
      if (!values.name) throw new Error("--name is required");
      const { key, record } = await createApiKey(database.db, {
        name: values.name,
        rateLimitPerMinute: values["rate-limit"] ? Number(values["rate-limit"]) : null,
        monthlyAudioSecondsQuota: values["quota-hours"] ? Math.round(Number(values["quota-hours"]) * 3600) : null,
      });
      if (values.json) process.stdout.write(JSON.stringify({ ...apiKeyView(record), key, webhook_secret: record.webhookSecret }) + "\n");
      else {
        process.stdout.write(`id:             ${record.id}\nname:           ${record.name}\nkey:            ${key}\nwebhook secret: ${record.webhookSecret}\n`);
        process.stdout.write("The key is shown only now: store it.\n");
      }
    } else if (command === "list") {
      const keys = (await listApiKeys(database.db)).map(apiKeyView);
      if (values.json) process.stdout.write(JSON.stringify(keys) + "\n");
      else for (const k of keys) process.stdout.write(`${k.id}  ${k.prefix}…  ${k.name}${k.revoked_at ? "  (revoked)" : ""}\n`);
    } else {
      if (!arg) throw new Error("revoke needs a key id");
      const row = await revokeApiKey(database.db, arg);
      if (!row) throw new Error(`no key ${arg}`);
      process.stdout.write(`revoked ${row.id} (${row.name})\n`);
    }
    return 0;
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  },
);
