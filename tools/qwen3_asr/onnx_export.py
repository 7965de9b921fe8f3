"""Export a Qwen3ASR reference module to the ONNX contract of gpu-worker/engine/README.md.

Three graphs (the "speech-llm" layout): encoder.onnx, embed_tokens.onnx, decoder.onnx; plus config.json and
tokenizer.json. All float I/O is float32 and all integer I/O int64; fp16/int8 variants only change how weights
are stored inside the graphs.
"""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from .bpe import Encoder
from .modeling import ModelConfig, Qwen3ASR

OPSET = 17

SUPPORTED_LANGUAGES = [
    "Chinese", "English", "Cantonese", "Arabic", "German", "French", "Spanish", "Portuguese", "Indonesian",
    "Italian", "Korean", "Russian", "Thai", "Vietnamese", "Japanese", "Turkish", "Hindi", "Malay", "Dutch",
    "Swedish", "Danish", "Finnish", "Polish", "Czech", "Filipino", "Persian", "Greek", "Romanian", "Hungarian",
    "Macedonian",
]


class EncoderGraph(nn.Module):
    """input_features [1, mel, Fpad] (Fpad a multiple of the chunk), valid_indices [A], attn_bias [1,1,A,A]."""

    def __init__(self, model: Qwen3ASR):
        super().__init__()
        self.enc = model.thinker.audio_tower
        self.mel = model.cfg.audio.num_mel_bins
        self.chunk = model.cfg.chunk_frames

    def forward(self, input_features, valid_indices, attn_bias):
        x = input_features[0].reshape(self.mel, -1, self.chunk).permute(1, 0, 2)
        embedded = self.enc.embed_chunks(x)
        flat = embedded.reshape(-1, embedded.shape[-1])
        hidden = flat.index_select(0, valid_indices)
        return self.enc.transform(hidden, attn_bias[0, 0]).unsqueeze(0)


class EmbedGraph(nn.Module):
    def __init__(self, model: Qwen3ASR):
        super().__init__()
        self.embed = model.thinker.model.embed_tokens

    def forward(self, input_ids):
        return self.embed(input_ids)


class DecoderGraph(nn.Module):
    """Merged prefill/decode step. Returns logits of the last position only: prefill logits for every position
    would cost B x S x vocab x 4 bytes (over 4 GB for 16 x 420 x 151,936) for values that are never read."""

    def __init__(self, model: Qwen3ASR):
        super().__init__()
        self.text = model.thinker.model
        self.lm_head = model.thinker.lm_head
        self.layers = model.cfg.text.num_hidden_layers

    def forward(self, inputs_embeds, attn_bias, position_ids, *past):
        pairs = [(past[2 * i], past[2 * i + 1]) for i in range(self.layers)]
        hidden, presents = self.text(inputs_embeds, position_ids, attn_bias, pairs)
        logits = self.lm_head(hidden[:, -1:, :])
        flat = []
        for k, v in presents:
            flat.extend([k, v])
        return (logits, *flat)


def export_graphs(model: Qwen3ASR, out_dir: str) -> None:
    model.eval()
    cfg = model.cfg
    os.makedirs(out_dir, exist_ok=True)
    with torch.no_grad():
        # Encoder: two chunks, 20 valid tokens.
        frames = 2 * cfg.chunk_frames
        feats = torch.randn(1, cfg.audio.num_mel_bins, frames)
        tpc = cfg.tokens_per_chunk
        valid = torch.arange(tpc + 7, dtype=torch.int64)
        bias = torch.zeros(1, 1, valid.numel(), valid.numel())
        torch.onnx.export(
            EncoderGraph(model), (feats, valid, bias), os.path.join(out_dir, "encoder.onnx"),
            input_names=["input_features", "valid_indices", "attn_bias"], output_names=["audio_embeds"],
            dynamic_axes={"input_features": {2: "frames"}, "valid_indices": {0: "audio_tokens"},
                          "attn_bias": {2: "audio_tokens", 3: "audio_tokens_k"}, "audio_embeds": {1: "audio_tokens"}},
            opset_version=OPSET, do_constant_folding=True,
        )
        ids = torch.tensor([[1, 2, 3]], dtype=torch.int64)
        torch.onnx.export(
            EmbedGraph(model), (ids,), os.path.join(out_dir, "embed_tokens.onnx"),
            input_names=["input_ids"], output_names=["inputs_embeds"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "inputs_embeds": {0: "batch", 1: "sequence"}},
            opset_version=OPSET, do_constant_folding=True,
        )
        t = cfg.text
        b, s, p = 2, 3, 4
        embeds = torch.randn(b, s, t.hidden_size)
        dbias = torch.zeros(b, 1, s, p + s)
        pos = torch.arange(p, p + s, dtype=torch.int64)[None].repeat(b, 1)
        past = []
        names_in, names_out = ["inputs_embeds", "attn_bias", "position_ids"], ["logits"]
        axes = {
            "inputs_embeds": {0: "batch", 1: "sequence"},
            "attn_bias": {0: "batch", 2: "sequence", 3: "total_sequence"},
            "position_ids": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"},
        }
        for i in range(t.num_hidden_layers):
            for kind in ("key", "value"):
                past.append(torch.randn(b, t.num_key_value_heads, p, t.head_dim))
                names_in.append(f"past_key_values.{i}.{kind}")
                names_out.append(f"present.{i}.{kind}")
                axes[f"past_key_values.{i}.{kind}"] = {0: "batch", 2: "past_sequence"}
                axes[f"present.{i}.{kind}"] = {0: "batch", 2: "total_sequence"}
        torch.onnx.export(
            DecoderGraph(model), (embeds, dbias, pos, *past), os.path.join(out_dir, "decoder.onnx"),
            input_names=names_in, output_names=names_out, dynamic_axes=axes,
            opset_version=OPSET, do_constant_folding=True,
        )


# --------------------------------------------------------------------------------------- weight storage types

MIN_QUANT_ELEMENTS = 1024
WEIGHT_OPS = {"MatMul", "Gemm", "Conv", "Gather"}


def convert_weights(path: str, dtype: str) -> None:
    """Store large float initializers as float16 (Cast back to float32) or int8 (per-row DequantizeLinear).

    Compute and I/O stay float32, so the graph runs on every execution provider; the file shrinks 2x or 4x.
    """
    if dtype == "float32":
        return
    model = onnx.load(path)
    graph = model.graph
    # int8 scales go per output channel, i.e. per row of the PyTorch parameter: that is axis 1 of a weight
    # feeding MatMul (exported transposed, [in, out]) and axis 0 everywhere else (Gather, Conv, Gemm).
    matmul_weights = {n.input[1] for n in graph.node if n.op_type == "MatMul" and len(n.input) > 1}
    # Only weight matrices: tables such as the sinusoidal positions stay float32.
    weights = {i for n in graph.node if n.op_type in WEIGHT_OPS for i in n.input}
    new_inits, new_nodes = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type != TensorProto.FLOAT or arr.size < MIN_QUANT_ELEMENTS or init.name not in weights:
            new_inits.append(init)
            continue
        name = init.name
        if dtype == "float16":
            new_inits.append(numpy_helper.from_array(arr.astype(np.float16), name + "_fp16"))
            new_nodes.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=name + "_cast"))
        elif dtype == "int8":
            axis = 1 if (name in matmul_weights and arr.ndim == 2) else 0
            q, scale = quantize_int8(arr, axis)
            new_inits.append(numpy_helper.from_array(q, name + "_int8"))
            new_inits.append(numpy_helper.from_array(scale, name + "_scale"))
            new_nodes.append(
                helper.make_node("DequantizeLinear", [name + "_int8", name + "_scale"], [name], axis=axis, name=name + "_dq")
            )
        else:
            raise ValueError(f"unknown weights dtype {dtype}")
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(new_nodes + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def quantize_int8(arr: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one float32 scale per slice along `axis`."""
    moved = np.moveaxis(arr, axis, 0)
    rows = moved.reshape(moved.shape[0], -1)
    scale = (np.abs(rows).max(axis=1) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    q = np.clip(np.round(rows / scale[:, None]), -127, 127).astype(np.int8)
    return np.moveaxis(q.reshape(moved.shape), 0, axis), scale


def rounded_like(model: Qwen3ASR, dtype: str) -> Qwen3ASR:
    """A copy of `model` whose weights are what a `convert_weights(dtype)` graph computes with."""
    import copy

    clone = copy.deepcopy(model)
    with torch.no_grad():
        for p in clone.parameters():
            arr = p.detach().numpy()
            if arr.size < MIN_QUANT_ELEMENTS:
                continue
            if dtype == "float16":
                p.copy_(torch.from_numpy(arr.astype(np.float16).astype(np.float32)))
            elif dtype == "int8":
                q, scale = quantize_int8(arr, 0)
                shape = (-1,) + (1,) * (arr.ndim - 1)
                p.copy_(torch.from_numpy(q.astype(np.float32) * scale.reshape(shape)))
    return clone


# --------------------------------------------------------------------------------------------- config.json


def prompt_ids(enc: Encoder) -> tuple[list[int], list[int]]:
    prefix = enc.encode("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|audio_start|>")
    suffix = enc.encode("<|audio_end|><|im_end|>\n<|im_start|>assistant\n")
    return prefix, suffix


def config_json(cfg: ModelConfig, enc: Encoder, variant: str, weights_dtype: str = "float32",
                max_position_embeddings: int = 65536) -> dict:
    prefix, suffix = prompt_ids(enc)
    a, t = cfg.audio, cfg.text
    return {
        "model_type": "speech-llm",
        "features_size": a.num_mel_bins,
        "hop_length": 160,
        "n_window": a.n_window,
        "n_window_infer": a.n_window_infer,
        "max_frames": 120000,
        "eos_token_ids": [enc.token_id("<|endoftext|>"), enc.token_id("<|im_end|>")],
        "max_sequence_length": max_position_embeddings,
        "tokenizer_type": "byte-level",
        "text_start_token_id": enc.token_id("<asr_text>"),
        "prompt_prefix_ids": prefix,
        "prompt_suffix_ids": suffix,
        "language_suffix_ids": {lang: suffix + enc.encode(f"language {lang}<asr_text>") for lang in SUPPORTED_LANGUAGES},
        "qwen3_asr": {
            "variant": variant,
            "sample_rate": 16000,
            "n_fft": 400,
            "n_mels": a.num_mel_bins,
            "audio_token_id": enc.token_id("<|audio_pad|>"),
            "audio_start_token_id": enc.token_id("<|audio_start|>"),
            "audio_end_token_id": enc.token_id("<|audio_end|>"),
            "im_start_token_id": enc.token_id("<|im_start|>"),
            "im_end_token_id": enc.token_id("<|im_end|>"),
            "endoftext_token_id": enc.token_id("<|endoftext|>"),
            "tokens_per_chunk": cfg.tokens_per_chunk,
            "window_tokens": cfg.window_tokens,
            "hidden_size": t.hidden_size,
            "num_hidden_layers": t.num_hidden_layers,
            "num_attention_heads": t.num_attention_heads,
            "num_key_value_heads": t.num_key_value_heads,
            "head_dim": t.head_dim,
            "intermediate_size": t.intermediate_size,
            "vocab_size": t.vocab_size,
            "rope_theta": t.rope_theta,
            "rms_norm_eps": t.rms_norm_eps,
            "tie_word_embeddings": t.tie_word_embeddings,
            "io_dtype": "float32",
            "weights_dtype": weights_dtype,
            "supported_languages": SUPPORTED_LANGUAGES,
            "audio_encoder": {
                "num_mel_bins": a.num_mel_bins,
                "d_model": a.d_model,
                "encoder_layers": a.encoder_layers,
                "encoder_attention_heads": a.encoder_attention_heads,
                "encoder_ffn_dim": a.encoder_ffn_dim,
                "downsample_hidden_size": a.downsample_hidden_size,
                "output_dim": a.output_dim,
                "max_source_positions": a.max_source_positions,
            },
        },
    }


def export_model_dir(model: Qwen3ASR, tokenizer: dict, out_dir: str, variant: str, weights_dtype: str = "float32",
                     max_position_embeddings: int = 65536) -> None:
    from .bpe import save

    export_graphs(model, out_dir)
    for name in ("encoder.onnx", "embed_tokens.onnx", "decoder.onnx"):
        convert_weights(os.path.join(out_dir, name), weights_dtype)
    save(tokenizer, os.path.join(out_dir, "tokenizer.json"))
    cfg = config_json(model.cfg, Encoder(tokenizer), variant, weights_dtype, max_position_embeddings)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
