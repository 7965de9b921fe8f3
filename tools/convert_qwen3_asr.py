#!/usr/bin/python3
"""Convert an official Qwen3-ASR checkpoint (Qwen/Qwen3-ASR-0.6B or -1.7B) to the engine's ONNX contract.

    /usr/bin/python3 tools/convert_qwen3_asr.py /path/to/Qwen3-ASR-1.7B models/qwen3-asr-1.7b [--weights int4]
    /usr/bin/python3 tools/convert_qwen3_asr.py --from-onnx models/qwen3-asr-synth-en OUT --weights int8

Reads config.json, *.safetensors (bf16, sharded or not) and the tokenizer files; maps the parameter names onto
tools/qwen3_asr/modeling.py; exports encoder.onnx, embed_tokens.onnx, decoder.onnx, config.json and
tokenizer.json. Precisions (tools/qwen3_asr/precision.py): float32; float16 (half weights, I/O, activations, KV
cache and logits, RMSNorm/softmax/RoPE in float32 inside the graph; for CUDA); int8 / int4 (weight-only
com.microsoft.MatMulNBits, block-wise scales, float32 I/O; what onnxruntime's CPU and CUDA providers run). A
graph with more than 128 MiB of weights is written with ONE external data file next to it (`decoder.onnx.data`).
`--from-onnx` rewrites an existing model directory (e.g. the shipped one) into another precision.
Checked by `npm test` on the tiny model's own checkpoint (test/fixtures/models/tiny-random-hf).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qwen3_asr.checkpoint import load_hf_checkpoint, load_tokenizer  # noqa: E402
from qwen3_asr.onnx_export import derive_precision, export_model_dir  # noqa: E402
from qwen3_asr.precision import PRECISIONS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint_dir", help="a Hugging Face checkpoint dir, or (with --from-onnx) a model dir")
    ap.add_argument("out_dir")
    ap.add_argument("--variant", default=None, help="name recorded in config.json (default: the folder name)")
    ap.add_argument("--weights", default="float32", choices=list(PRECISIONS),
                    help="precision of the graphs (float16 also makes I/O and the KV cache half)")
    ap.add_argument("--block-size", type=int, default=32, choices=[32, 128],
                    help="K values per scale for int8/int4 (default 32)")
    ap.add_argument("--from-onnx", action="store_true",
                    help="checkpoint_dir is a float32 (or old float16-storage) model directory of this contract")
    ap.add_argument("--max-position-embeddings", type=int, default=65536)
    args = ap.parse_args()
    if args.from_onnx:
        derive_precision(args.checkpoint_dir, args.out_dir, args.weights, args.block_size, args.variant)
        print(f"wrote {args.out_dir}")
        return
    model = load_hf_checkpoint(args.checkpoint_dir)
    tokenizer = load_tokenizer(args.checkpoint_dir)
    variant = args.variant or os.path.basename(os.path.normpath(args.checkpoint_dir))
    export_model_dir(model, tokenizer, args.out_dir, variant, args.weights, args.max_position_embeddings,
                     args.block_size)
    print(f"wrote {args.out_dir}")


if __name__ == "__main__":
    main()
