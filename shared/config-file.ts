import { existsSync, readFileSync } from "node:fs";
import { parseServiceConfig, type ServiceConfig } from "./config.js";

export const DEFAULT_CONFIG_FILE = "service.config.json";

/** Node only: CONFIG_FILE (default ./service.config.json, optional) merged with the environment. */
export function loadServiceConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const path = env.CONFIG_FILE ?? DEFAULT_CONFIG_FILE;
  let file: unknown = {};
  if (existsSync(path)) file = JSON.parse(readFileSync(path, "utf8"));
  else if (env.CONFIG_FILE) throw new Error(`CONFIG_FILE ${path} does not exist`);
  return parseServiceConfig(file, env);
}
