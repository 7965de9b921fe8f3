"""Export a Qwen3ASR reference module to the ONNX contract of gpu-worker/engine/README.md.

Three graphs (the "speech-llm" layout): encoder.onnx, embed_tokens.onnx, decoder.onnx; plus config.json and
tokenizer.json. Graphs are exported in float32 and then rewritten into the requested precision by precision.py
(float16: half I/O, activations and KV cache; int8/int4: weight-only MatMulNBits with float32 I/O).
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
from .precision import DEFAULT_BLOCK_SIZE, EXTERNAL_DATA_THRESHOLD, convert_graph, dtypes_of, quantize_blockwise, save_model, weight_bytes

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


# --------------------------------------------------------------------------------------- precisions


def convert_weights(src: str, dst: str, dtype: str, block_size: int = DEFAULT_BLOCK_SIZE) -> int:
    """Write the float32 graph at `src` in `dtype` to `dst` (tools/qwen3_asr/precision.py); returns its weight bytes.

    Large graphs go out with one external data file (`dst.data`), never through one >2 GB protobuf.
    """
    import shutil

    graph_name = os.path.splitext(os.path.basename(dst))[0]
    skeleton = onnx.load(src, load_external_data=False)
    if dtype == "float32" and weight_bytes(skeleton) <= EXTERNAL_DATA_THRESHOLD and not _has_external_data(skeleton):
        shutil.copyfile(src, dst)  # torch's file as it is (the fp32 goldens were made from these bytes)
        return weight_bytes(skeleton)
    model = convert_graph(onnx.load(src), graph_name, dtype, block_size)
    save_model(model, dst)
    return weight_bytes(model)


def _has_external_data(model: onnx.ModelProto) -> bool:
    return any(i.data_location == onnx.TensorProto.EXTERNAL for i in model.graph.initializer)


def rounded_like(model: Qwen3ASR, dtype: str, block_size: int = DEFAULT_BLOCK_SIZE) -> Qwen3ASR:
    """A float32 copy of `model` whose weights are what the `dtype` graphs compute with.

    float16: every weight rounded to half (the graph also computes in half, which this copy does not model).
    int8/int4: every Linear weight (the graphs' MatMul/Gemm weights) quantized block-wise as MatMulNBits stores
    it, and the embedding table rounded to half (embed_tokens stores it half); lm_head is untied first so that
    it gets its own quantization.
    """
    import copy

    clone = copy.deepcopy(model)
    th = clone.thinker
    with torch.no_grad():
        if dtype == "float16":
            for p in clone.parameters():
                p.copy_(p.to(torch.float16).to(torch.float32))
        elif dtype in ("int8", "int4"):
            bits = 8 if dtype == "int8" else 4
            if th.lm_head.weight is th.model.embed_tokens.weight:
                th.lm_head.weight = nn.Parameter(th.lm_head.weight.detach().clone())
            for module in clone.modules():
                if isinstance(module, nn.Linear):
                    w = module.weight.detach().numpy()
                    _, _, deq = quantize_blockwise(w, bits, block_size)
                    module.weight.copy_(torch.from_numpy(deq))
            emb = th.model.embed_tokens.weight
            emb.copy_(emb.to(torch.float16).to(torch.float32))
    return clone


# --------------------------------------------------------------------------------------------- config.json


def prompt_ids(enc: Encoder) -> tuple[list[int], list[int]]:
    prefix = enc.encode("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|audio_start|>")
    suffix = enc.encode("<|audio_end|><|im_end|>\n<|im_start|>assistant\n")
    return prefix, suffix


def config_json(cfg: ModelConfig, enc: Encoder, variant: str, weights_dtype: str = "float32",
                max_position_embeddings: int = 65536, graph_weight_bytes: dict | None = None,
                block_size: int | None = None) -> dict:
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
            **dtypes_of(weights_dtype),
            **({"weight_bytes": graph_weight_bytes} if graph_weight_bytes else {}),
            **({"quant_block_size": block_size} if block_size and weights_dtype in ("int8", "int4") else {}),
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


GRAPHS = ("encoder", "embed_tokens", "decoder")


def graph_weight_bytes(out_dir: str) -> dict[str, int]:
    """Weight bytes per graph as stored (config.json's `weight_bytes`), read without loading external data."""
    return {g: weight_bytes(onnx.load(os.path.join(out_dir, f"{g}.onnx"), load_external_data=False)) for g in GRAPHS}


def export_model_dir(model: Qwen3ASR, tokenizer: dict, out_dir: str, variant: str, weights_dtype: str = "float32",
                     max_position_embeddings: int = 65536, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
    from .bpe import save

    import shutil

    # torch writes graphs over 2 GB as one file per tensor: export aside, then write each graph once, in its
    # precision, with at most one `.data` file.
    staging = os.path.join(out_dir, ".float32-export")
    shutil.rmtree(staging, ignore_errors=True)
    export_graphs(model, staging)
    for g in GRAPHS:
        convert_weights(os.path.join(staging, f"{g}.onnx"), os.path.join(out_dir, f"{g}.onnx"), weights_dtype,
                        block_size)
    shutil.rmtree(staging)
    save(tokenizer, os.path.join(out_dir, "tokenizer.json"))
    cfg = config_json(model.cfg, Encoder(tokenizer), variant, weights_dtype, max_position_embeddings,
                      graph_weight_bytes(out_dir), block_size)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    # The greedy loop inside onnxruntime (gpu-worker/engine/README.md, "How decoding runs").
    from .generate_graph import write_generate_graph

    write_generate_graph(out_dir)


def derive_precision(src_dir: str, dst_dir: str, precision: str, block_size: int = DEFAULT_BLOCK_SIZE,
                     variant: str | None = None) -> dict:
    """Write `dst_dir`: the model of `src_dir` (float32, or an old float16-storage export) in `precision`.

    The graphs are rewritten, not re-exported, so a float32 source gives byte-for-byte the float32 weights the
    torch export wrote; config.json is the source's with the dtype fields and weight bytes of the new graphs.
    """
    import shutil

    from .precision import uncast_float16_storage

    os.makedirs(dst_dir, exist_ok=True)
    with open(os.path.join(src_dir, "config.json")) as f:
        cfg = json.load(f)
    for g in GRAPHS:
        model = uncast_float16_storage(onnx.load(os.path.join(src_dir, f"{g}.onnx")))
        save_model(convert_graph(model, g, precision, block_size), os.path.join(dst_dir, f"{g}.onnx"))
    shutil.copyfile(os.path.join(src_dir, "tokenizer.json"), os.path.join(dst_dir, "tokenizer.json"))
    q = cfg["qwen3_asr"]
    if variant:
        q["variant"] = variant
    q.update(dtypes_of(precision))
    q["weight_bytes"] = graph_weight_bytes(dst_dir)
    q.pop("quant_block_size", None)
    if precision in ("int8", "int4"):
        q["quant_block_size"] = block_size
    with open(os.path.join(dst_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    from .generate_graph import write_generate_graph

    write_generate_graph(dst_dir)
    with open(os.path.join(dst_dir, "config.json")) as f:
        return json.load(f)
