#!/usr/bin/python3
"""Write generate.onnx (prefill + the greedy loop in one graph) next to a model directory's decoder.onnx.

    /usr/bin/python3 tools/make_generate_graph.py models/qwen3-asr-synth-en [more model dirs…]

See tools/qwen3_asr/generate_graph.py for the graph and gpu-worker/engine/README.md for the contract.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import onnx  # noqa: E402

from qwen3_asr.generate_graph import build_generate_graph  # noqa: E402
from qwen3_asr.precision import weight_bytes  # noqa: E402


def write_generate_graph(model_dir: str) -> str:
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    q = config["qwen3_asr"]
    decoder = onnx.load(os.path.join(model_dir, "decoder.onnx"))
    embed_tokens = onnx.load(os.path.join(model_dir, "embed_tokens.onnx"))
    model = build_generate_graph(decoder, q["num_hidden_layers"], q["num_key_value_heads"], q["head_dim"],
                                 q["hidden_size"], embed_tokens, bool(q.get("tie_word_embeddings")))
    out = os.path.join(model_dir, "generate.onnx")
    large = sum(len(i.raw_data) for i in model.graph.initializer) > 2**31 - 2**26
    if large:  # one external data file, never the 2 GB protobuf path
        onnx.save_model(model, out, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="generate.onnx.data", size_threshold=1024)
    else:
        onnx.save(model, out)
    onnx.checker.check_model(out)
    # config.json says what each graph holds (the memory model and the precision tests read it).
    if "weight_bytes" in q:
        q["weight_bytes"]["generate"] = weight_bytes(model)
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
    return out


if __name__ == "__main__":
    for d in sys.argv[1:]:
        print("wrote", write_generate_graph(d))
