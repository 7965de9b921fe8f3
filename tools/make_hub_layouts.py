#!/usr/bin/env python3
"""Write the tiny random model (test/fixtures/models/tiny-random) in a public Hub layout, for the mock Hub that
tests `npm run model:pull` offline.

  test/fixtures/hub/speech-llm/   the onnx-asr "speech-llm" layout of the OpenVoiceOS repos
                                  (design/qwen3-asr-model.md S6): graphs under onnx/, vocab.json + merges.txt
                                  instead of tokenizer.json, config.json with only the keys onnx-asr reads (no
                                  qwen3_asr block), and a decoder whose logits cover every position [B, S, V]
                                  as onnx-asr's graphs do (ours give the last position only).

Same weights as tiny-random, so the pulled-and-adapted model must reproduce tiny-random's goldens.
Run: /usr/bin/python3 tools/make_hub_layouts.py
"""
import json
import os
import shutil

import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "test", "fixtures", "models", "tiny-random")
OUT = os.path.join(ROOT, "test", "fixtures", "hub", "speech-llm")

# The keys onnx-asr's SpeechLlm reads from config.json (src/onnx_asr/models/speech_llm.py).
S6_KEYS = ["model_type", "features_size", "hop_length", "n_window", "n_window_infer", "max_frames", "eos_token_ids",
           "max_sequence_length", "tokenizer_type", "text_start_token_id", "prompt_prefix_ids", "prompt_suffix_ids",
           "language_suffix_ids"]


def full_sequence_logits(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the last-position Slice in front of lm_head, so logits are [B, S, V]."""
    producer = {o: n for n in model.graph.node for o in n.output}
    lm_head = producer["logits"]
    sliced = producer[lm_head.input[0]]
    assert sliced.op_type == "Slice", sliced.op_type
    lm_head.input[0] = sliced.input[0]
    model.graph.node.remove(sliced)
    for out in model.graph.output:
        if out.name == "logits":
            out.type.tensor_type.shape.dim[1].dim_param = "sequence"
    onnx.checker.check_model(model)
    return model


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "onnx"))
    shutil.copy(os.path.join(SRC, "encoder.onnx"), os.path.join(OUT, "onnx", "encoder.onnx"))
    shutil.copy(os.path.join(SRC, "embed_tokens.onnx"), os.path.join(OUT, "onnx", "embed_tokens.onnx"))
    onnx.save(full_sequence_logits(onnx.load(os.path.join(SRC, "decoder.onnx"))), os.path.join(OUT, "onnx", "decoder.onnx"))

    tokenizer = json.load(open(os.path.join(SRC, "tokenizer.json")))
    vocab = dict(tokenizer["model"]["vocab"])
    for added in tokenizer["added_tokens"]:
        vocab[added["content"]] = added["id"]
    with open(os.path.join(OUT, "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(OUT, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
        for merge in tokenizer["model"]["merges"]:
            f.write((merge if isinstance(merge, str) else " ".join(merge)) + "\n")

    config = json.load(open(os.path.join(SRC, "config.json")))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({k: config[k] for k in S6_KEYS if k in config}, f, indent=1)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Tiny random Qwen3-ASR in the onnx-asr speech-llm layout (test fixture; tools/make_hub_layouts.py).\n")


if __name__ == "__main__":
    main()
