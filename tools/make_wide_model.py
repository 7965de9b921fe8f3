#!/usr/bin/python3
"""A random checkpoint with the REAL Qwen3-ASR-1.7B widths and only a few layers, through the converter.

    /usr/bin/python3 tools/make_wide_model.py [OUT=/tmp/wide-1.7b] [--layers 2] [--encoder-layers 2]
                                              [--precisions float16,int4]

Widths from test/fixtures/configs/qwen3-asr-1.7b.json (hidden 2048, 16 q / 8 kv heads, head_dim 128,
intermediate 6144, vocab 151,936, encoder d_model 1024, ffn 4096). Writes OUT/checkpoint (bf16 safetensors, the
official layout) and OUT/<precision> by running tools/convert_qwen3_asr.py on it, so the converter's real path
is what is exercised: the decoder of every precision is written with ONE external data file
(`decoder.onnx.data`), never as a >2 GB protobuf. Prints sizes and times. Nothing here is committed: the files
are hundreds of MB (the lead's memory calibration reads them from OUT).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qwen3_asr import bpe  # noqa: E402
from qwen3_asr.checkpoint import save_hf_checkpoint  # noqa: E402
from qwen3_asr.modeling import AudioConfig, ModelConfig, Qwen3ASR, TextConfig  # noqa: E402
from qwen3_asr.onnx_export import SUPPORTED_LANGUAGES  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wide_config(layers: int, encoder_layers: int) -> ModelConfig:
    with open(os.path.join(ROOT, "test", "fixtures", "configs", "qwen3-asr-1.7b.json")) as f:
        q = json.load(f)["qwen3_asr"]
    a = q["audio_encoder"]
    return ModelConfig(
        audio=AudioConfig(num_mel_bins=a["num_mel_bins"], d_model=a["d_model"], encoder_layers=encoder_layers,
                          encoder_attention_heads=a["encoder_attention_heads"], encoder_ffn_dim=a["encoder_ffn_dim"],
                          downsample_hidden_size=a["downsample_hidden_size"], output_dim=a["output_dim"],
                          n_window=50, n_window_infer=800, max_source_positions=a["max_source_positions"]),
        text=TextConfig(vocab_size=q["vocab_size"], hidden_size=q["hidden_size"],
                        intermediate_size=q["intermediate_size"], num_hidden_layers=layers,
                        num_attention_heads=q["num_attention_heads"], num_key_value_heads=q["num_key_value_heads"],
                        head_dim=q["head_dim"], rms_norm_eps=q["rms_norm_eps"], rope_theta=q["rope_theta"],
                        tie_word_embeddings=True),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default="/tmp/wide-1.7b")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--encoder-layers", type=int, default=2)
    ap.add_argument("--precisions", default="float16,int4")
    args = ap.parse_args()
    cfg = wide_config(args.layers, args.encoder_layers)
    torch.manual_seed(20261207)
    started = time.time()
    model = Qwen3ASR(cfg).eval()
    words = ["system", "user", "assistant", "language", "None", "set", "a", "timer"] + SUPPORTED_LANGUAGES
    tokenizer = bpe.build_tokenizer(words, vocab_size=cfg.text.vocab_size)
    ckpt = os.path.join(args.out, "checkpoint")
    save_hf_checkpoint(model, tokenizer, ckpt)
    print(f"checkpoint {ckpt}: {dir_mb(ckpt):.0f} MB in {time.time() - started:.0f} s", flush=True)
    del model
    for precision in args.precisions.split(","):
        out = os.path.join(args.out, precision)
        t = time.time()
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_qwen3_asr.py"), ckpt, out,
                        "--weights", precision, "--variant", f"wide-1.7b-{args.layers}l-{precision}"], check=True)
        files = {f: os.path.getsize(os.path.join(out, f)) / 2**20 for f in sorted(os.listdir(out))}
        print(f"{precision}: {time.time() - t:.0f} s; " + ", ".join(f"{f} {mb:.1f} MB" for f, mb in files.items()),
              flush=True)


def dir_mb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)) / 2**20


if __name__ == "__main__":
    main()
