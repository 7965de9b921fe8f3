import type * as ort from "onnxruntime-node";

/**
 * How onnxruntime pools memory, as far as onnxruntime-node lets a caller choose (1.30: the CPU arena, memory
 * patterns and session config entries; its CUDA provider takes only a device id, so the CUDA arena's extend
 * strategy and memory limit keep onnxruntime's defaults and the planner plus the feedback loop bound the device).
 */
export interface MemoryPoolOptions {
  /** onnxruntime's CPU arena (enableCpuMemArena): reuses freed blocks instead of returning them to malloc. */
  cpuArena?: boolean;
  /** Memory patterns (enableMemPattern): plans one block per input shape seen, reused on a repeat of that shape. */
  memoryPattern?: boolean;
  /**
   * Weights allocated outside the arena (session.use_device_allocator_for_initializers): the arena then holds
   * only activations, so what it reserves beyond its use is not rounded up around the weights.
   */
  initializersOutsideArena?: boolean;
  /** Further session config entries ("session.…" keys), passed as given (onnxruntime does not reject unknown values). */
  sessionConfig?: Record<string, string>;
}

/** The onnxruntime session options for a pool setting; only what is set is passed (the rest stays onnxruntime's default). */
export function poolSessionOptions(pool: MemoryPoolOptions = {}): Pick<ort.InferenceSession.SessionOptions, "enableCpuMemArena" | "enableMemPattern" | "extra"> {
  const entries: Record<string, string> = { ...pool.sessionConfig };
  if (pool.initializersOutsideArena !== undefined) entries["session.use_device_allocator_for_initializers"] = pool.initializersOutsideArena ? "1" : "0";
  return {
    ...(pool.cpuArena !== undefined ? { enableCpuMemArena: pool.cpuArena } : {}),
    ...(pool.memoryPattern !== undefined ? { enableMemPattern: pool.memoryPattern } : {}),
    // Flat dotted keys: the binding adds each string value as a config entry under its key.
    ...(Object.keys(entries).length > 0 ? { extra: entries } : {}),
  };
}
