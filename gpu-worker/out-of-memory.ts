/**
 * Whether an engine failure was a failed allocation. onnxruntime reports them as plain errors whose text comes
 * from the allocator (BFC arena), CUDA, cuBLAS/cuDNN or the C++ runtime; these are the phrasings it uses.
 */
const OUT_OF_MEMORY = [
  /failed to allocate memory/i,
  /out of memory/i,
  /\bbad_alloc\b/i,
  /CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation/,
  /CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED/,
  /available memory of \d+ is smaller than requested bytes/i,
];

export function isOutOfMemoryError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
  return OUT_OF_MEMORY.some((pattern) => pattern.test(message));
}
