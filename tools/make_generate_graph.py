#!/usr/bin/python3
"""Write generate.onnx (prefill + the greedy loop in one graph) next to a model directory's decoder.onnx.

    /usr/bin/python3 tools/make_generate_graph.py models/qwen3-asr-synth-en [more model dirs…]

See tools/qwen3_asr/generate_graph.py for the graph and gpu-worker/engine/README.md for the contract.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qwen3_asr.generate_graph import write_generate_graph  # noqa: E402


if __name__ == "__main__":
    for d in sys.argv[1:]:
        print("wrote", write_generate_graph(d))
