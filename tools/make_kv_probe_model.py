#!/usr/bin/python3
"""A random model whose KV cache dominates its memory, to count how many copies of the cache a decoding loop
keeps alive (bench/kv-copies.ts). Not committed: it is written where you say, in a few seconds.

    /usr/bin/python3 tools/make_kv_probe_model.py /tmp/kv-probe
"""
from __future__ import annotations

import dataclasses
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from make_tiny_model import TINY, TOKENIZER_WORDS  # noqa: E402
from make_generate_graph import write_generate_graph  # noqa: E402
from qwen3_asr import bpe  # noqa: E402
from qwen3_asr.modeling import Qwen3ASR  # noqa: E402
from qwen3_asr.onnx_export import export_model_dir  # noqa: E402

# 4 layers x 2 x 8 KV heads x 128 x 4 bytes = 32 KiB of cache per token; the weights are a few MiB.
PROBE = dataclasses.replace(TINY, audio=dataclasses.replace(TINY.audio, output_dim=64), text=dataclasses.replace(TINY.text, hidden_size=64, intermediate_size=128,
                                                          num_hidden_layers=4, num_attention_heads=8,
                                                          num_key_value_heads=8, head_dim=128))

if __name__ == "__main__":
    out = sys.argv[1]
    torch.manual_seed(7)
    model = Qwen3ASR(PROBE).eval()
    tokenizer = bpe.build_tokenizer(TOKENIZER_WORDS, vocab_size=PROBE.text.vocab_size)
    export_model_dir(model, tokenizer, out, "kv-probe")
    write_generate_graph(out)
    print("wrote", out)
