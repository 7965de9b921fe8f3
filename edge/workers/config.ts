import { parseServiceConfig, type ServiceConfig } from "../../shared/config.js";
import { numberVar, type WorkerEnv } from "./env.js";

/**
 * The service configuration from the Worker's variables. There is no config file on Workers: the limits, which
 * parseServiceConfig reads from the file only, come from variables and stand in for it; the variables it reads
 * itself (ALLOW_PRIVATE_TARGETS…) are passed as its environment.
 */
export function workerServiceConfig(env: WorkerEnv): ServiceConfig {
  const limits = Object.fromEntries(
    Object.entries({
      maxUploadBytes: numberVar(env.MAX_UPLOAD_BYTES),
      maxDurationSeconds: numberVar(env.MAX_DURATION_SECONDS),
      minDurationSeconds: numberVar(env.MIN_DURATION_SECONDS),
    }).filter(([, value]) => value !== undefined),
  );
  return parseServiceConfig({ limits }, stringVars(env));
}

/** Bindings (Hyperdrive, R2) are objects; only the string variables are environment. */
function stringVars(env: WorkerEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}
