"""Official Qwen3-ASR checkpoints (safetensors + config.json + tokenizer files): read, map and write.

The safetensors format is small enough to read and write here with numpy (Debian has no python3-safetensors):
8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then raw data.
"""
from __future__ import annotations

import copy
import glob
import json
import os
import struct

import numpy as np
import torch

from .bpe import tokenizer_from_vocab_merges
from .modeling import AudioConfig, ModelConfig, Qwen3ASR, TextConfig

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            f.seek(base + start)
            raw = f.read(end - start)
            if info["dtype"] == "BF16":
                bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
                arr = bits.view(np.float32)
            elif info["dtype"] in _DTYPES:
                arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
            else:
                raise ValueError(f"{path}: unsupported dtype {info['dtype']} for {name}")
            out[name] = arr.reshape(info["shape"]).copy()
    return out


def to_bf16_bits(arr: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest even (as torch does)."""
    bits = np.ascontiguousarray(arr, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    return ((bits + rounding) >> 16).astype("<u2")


def write_safetensors(path: str, tensors: dict[str, np.ndarray], bf16: bool = True) -> None:
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        data = to_bf16_bits(arr).tobytes() if bf16 else np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "BF16" if bf16 else "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for c in chunks:
            f.write(c)


def bf16_rounded(model: Qwen3ASR) -> Qwen3ASR:
    """What a bf16 checkpoint of `model` loads back as."""
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for p in clone.parameters():
            bits = to_bf16_bits(p.detach().numpy()).astype(np.uint32) << 16
            p.copy_(torch.from_numpy(bits.view(np.float32).reshape(p.shape)))
    return clone


# ----------------------------------------------------------------------------------------------- config


def model_config_from_hf(hf: dict) -> ModelConfig:
    thinker = hf.get("thinker_config", hf)
    a, t = thinker["audio_config"], thinker["text_config"]
    return ModelConfig(
        audio=AudioConfig(
            num_mel_bins=a["num_mel_bins"], d_model=a["d_model"], encoder_layers=a["encoder_layers"],
            encoder_attention_heads=a["encoder_attention_heads"], encoder_ffn_dim=a["encoder_ffn_dim"],
            downsample_hidden_size=a["downsample_hidden_size"], output_dim=a["output_dim"],
            n_window=a["n_window"], n_window_infer=a["n_window_infer"],
            max_source_positions=a.get("max_source_positions", 1500),
        ),
        text=TextConfig(
            vocab_size=t["vocab_size"], hidden_size=t["hidden_size"], intermediate_size=t["intermediate_size"],
            num_hidden_layers=t["num_hidden_layers"], num_attention_heads=t["num_attention_heads"],
            num_key_value_heads=t["num_key_value_heads"], head_dim=t.get("head_dim", t["hidden_size"] // t["num_attention_heads"]),
            rms_norm_eps=t["rms_norm_eps"], rope_theta=float(t["rope_theta"]),
            tie_word_embeddings=bool(t.get("tie_word_embeddings", hf.get("tie_word_embeddings", True))),
        ),
    )


def hf_config_from_model(cfg: ModelConfig, special_ids: dict[str, int]) -> dict:
    a, t = cfg.audio, cfg.text
    return {
        "architectures": ["Qwen3ASRForConditionalGeneration"],
        "model_type": "qwen3_asr",
        "thinker_config": {
            "model_type": "qwen3_asr",
            "audio_config": {
                "activation_function": "gelu", "conv_chunksize": 500, "d_model": a.d_model,
                "downsample_hidden_size": a.downsample_hidden_size, "encoder_attention_heads": a.encoder_attention_heads,
                "encoder_ffn_dim": a.encoder_ffn_dim, "encoder_layers": a.encoder_layers,
                "max_source_positions": a.max_source_positions, "model_type": "qwen3_asr_audio_encoder",
                "n_window": a.n_window, "n_window_infer": a.n_window_infer, "num_mel_bins": a.num_mel_bins,
                "output_dim": a.output_dim,
            },
            "audio_end_token_id": special_ids["<|audio_end|>"],
            "audio_start_token_id": special_ids["<|audio_start|>"],
            "audio_token_id": special_ids["<|audio_pad|>"],
            "dtype": "bfloat16",
            "text_config": {
                "attention_bias": False, "head_dim": t.head_dim, "hidden_act": "silu", "hidden_size": t.hidden_size,
                "intermediate_size": t.intermediate_size, "max_position_embeddings": 65536, "model_type": "qwen3",
                "num_attention_heads": t.num_attention_heads, "num_hidden_layers": t.num_hidden_layers,
                "num_key_value_heads": t.num_key_value_heads, "rms_norm_eps": t.rms_norm_eps,
                "rope_scaling": {"interleaved": True, "mrope_interleaved": True, "mrope_section": [24, 20, 20],
                                 "rope_type": "default", "type": "default"},
                "rope_theta": t.rope_theta, "tie_word_embeddings": t.tie_word_embeddings, "vocab_size": t.vocab_size,
            },
        },
    }


# ----------------------------------------------------------------------------------------------- weights


def official_to_module_name(name: str) -> str | None:
    """Map a checkpoint key to this module's parameter name; None for keys that carry no parameter."""
    for prefix in ("thinker.",):
        if name.startswith(prefix):
            return name
    if name.startswith("model.") or name.startswith("lm_head."):
        # A bare thinker checkpoint (Qwen3ASRThinkerForConditionalGeneration saved on its own).
        return "thinker." + name
    if name.startswith("audio_tower."):
        return "thinker." + name
    return None


def load_hf_checkpoint(model_dir: str) -> Qwen3ASR:
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = model_config_from_hf(json.load(f))
    model = Qwen3ASR(cfg)
    files = sorted(glob.glob(os.path.join(model_dir, "*.safetensors")))
    if not files:
        raise FileNotFoundError(f"no *.safetensors in {model_dir}")
    tensors: dict[str, np.ndarray] = {}
    for path in files:
        tensors.update(read_safetensors(path))
    params = dict(model.named_parameters())  # a tied lm_head is listed once, as embed_tokens
    loaded, unexpected = set(), []
    with torch.no_grad():
        for key, arr in tensors.items():
            target = official_to_module_name(key)
            if target == "thinker.lm_head.weight" and cfg.text.tie_word_embeddings:
                continue  # tied: the embedding matrix is the output matrix
            if target is None or target not in params:
                unexpected.append(key)
                continue
            p = params[target]
            if tuple(p.shape) != arr.shape:
                raise ValueError(f"{key}: checkpoint shape {arr.shape} != model shape {tuple(p.shape)}")
            p.copy_(torch.from_numpy(arr.astype(np.float32)))
            loaded.add(target)
    missing = sorted(set(params) - loaded)
    if missing:
        raise ValueError(f"checkpoint lacks {len(missing)} parameters, first: {missing[:5]}")
    if unexpected:
        print(f"ignored {len(unexpected)} checkpoint keys, first: {unexpected[:5]}")
    model.eval()
    return model


def load_tokenizer(model_dir: str) -> dict:
    path = os.path.join(model_dir, "tokenizer.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    with open(os.path.join(model_dir, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(model_dir, "merges.txt"), encoding="utf-8") as f:
        merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        tc = json.load(f)
    added = []
    for tid, info in sorted(tc.get("added_tokens_decoder", {}).items(), key=lambda kv: int(kv[0])):
        added.append({"id": int(tid), "content": info["content"], "single_word": info.get("single_word", False),
                      "lstrip": info.get("lstrip", False), "rstrip": info.get("rstrip", False),
                      "normalized": info.get("normalized", False), "special": info.get("special", True)})
    return tokenizer_from_vocab_merges(vocab, merges, added)


def save_hf_checkpoint(model: Qwen3ASR, tokenizer: dict, out_dir: str) -> None:
    """Write `model` the way the official repository ships weights: bf16 safetensors, vocab.json, merges.txt."""
    os.makedirs(out_dir, exist_ok=True)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    if model.cfg.text.tie_word_embeddings:
        state.pop("thinker.lm_head.weight", None)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), state, bf16=True)
    special = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config_from_model(model.cfg, special), f, indent=1)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer["model"]["vocab"], f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(tokenizer["model"]["merges"]) + "\n")
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"added_tokens_decoder": {str(t["id"]): {k: v for k, v in t.items() if k != "id"}
                                            for t in tokenizer["added_tokens"]}}, f, ensure_ascii=False, indent=1)
