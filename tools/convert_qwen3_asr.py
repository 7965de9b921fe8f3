#!/usr/bin/python3
"""Convert an official Qwen3-ASR checkpoint (Qwen/Qwen3-ASR-0.6B or -1.7B) to the engine's ONNX contract.

    /usr/bin/python3 tools/convert_qwen3_asr.py /path/to/Qwen3-ASR-1.7B models/qwen3-asr-1.7b [--weights float16]

Reads config.json, *.safetensors (bf16, sharded or not) and the tokenizer files; maps the parameter names onto
tools/qwen3_asr/modeling.py; exports encoder.onnx, embed_tokens.onnx, decoder.onnx, config.json and
tokenizer.json. Graphs above 2 GB are written with external data (`*.onnx.data`) next to them.
Checked by `npm test` on the tiny model's own checkpoint (test/fixtures/models/tiny-random-hf).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qwen3_asr.checkpoint import load_hf_checkpoint, load_tokenizer  # noqa: E402
from qwen3_asr.onnx_export import export_model_dir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--variant", default=None, help="name recorded in config.json (default: the folder name)")
    ap.add_argument("--weights", default="float32", choices=["float32", "float16", "int8"],
                    help="how weights are stored inside the graphs (I/O stays float32)")
    ap.add_argument("--max-position-embeddings", type=int, default=65536)
    args = ap.parse_args()
    model = load_hf_checkpoint(args.checkpoint_dir)
    tokenizer = load_tokenizer(args.checkpoint_dir)
    variant = args.variant or os.path.basename(os.path.normpath(args.checkpoint_dir))
    export_model_dir(model, tokenizer, args.out_dir, variant, args.weights, args.max_position_embeddings)
    print(f"wrote {args.out_dir}")


if __name__ == "__main__":
    main()
