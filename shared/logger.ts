/**
 * Structured JSON logs, one object per line, with job ids as fields. Secrets never reach the output: values
 * of sensitive keys and anything shaped like an API key or a webhook secret are masked.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SENSITIVE_KEY = /^(authorization|api[_-]?key|key|password|cookie|set-cookie|.*secret|.*token|.*signature)$/i;
const SECRET_VALUE = /\b(sk_(?:live|test)_[A-Za-z0-9]{6,}|whsec_[A-Za-z0-9+/=]{8,})/g;

export function redact(value: unknown, key = ""): unknown {
  if (SENSITIVE_KEY.test(key)) return "[redacted]";
  if (typeof value === "string") return value.replace(SECRET_VALUE, (m) => `${m.slice(0, 8)}…[redacted]`);
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redact(value.message),
      ...("code" in value ? { code: (value as { code: unknown }).code } : {}),
      ...(value.cause !== undefined ? { cause: redact(value.cause) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

export function createLogger(
  base: LogFields = {},
  options: { level?: LogLevel; write?: (line: string) => void } = {},
): Logger {
  const min = ORDER[options.level ?? ((typeof process !== "undefined" && (process.env.LOG_LEVEL as LogLevel)) || "info")] ?? ORDER.info;
  const write = options.write ?? ((line: string) => console.log(line));
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify(redact({ time: new Date().toISOString(), level, msg: message, ...base, ...fields })));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...base, ...fields }, options),
  };
}

export const silentLogger: Logger = createLogger({}, { write: () => undefined });
