"""PyTorch reference of the Qwen3-ASR architecture at inference time.

Written after QwenLM/Qwen3-ASR `qwen_asr/core/transformers_backend/modeling_qwen3_asr.py` (@7c6daf7).
Module and parameter names follow the official checkpoint (`thinker.audio_tower.*`, `thinker.model.*`,
`thinker.lm_head.*`) so that real safetensors load by name.

Deliberate differences from the official transformers backend, both documented in gpu-worker/engine/README.md:
- The encoder always applies its 104-token attention windows (the official backend only does so under
  flash-attention-2; vLLM always does).
- The last 100-frame chunk is always zero-padded to 100 frames (as the HF-native feature extractor does);
  the official backend skips that padding when a clip is shorter than one chunk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

NEG_INF = torch.finfo(torch.float32).min


@dataclass
class AudioConfig:
    num_mel_bins: int = 128
    d_model: int = 896
    encoder_layers: int = 18
    encoder_attention_heads: int = 14
    encoder_ffn_dim: int = 3584
    downsample_hidden_size: int = 480
    output_dim: int = 1024
    n_window: int = 50
    n_window_infer: int = 800
    max_source_positions: int = 1500


@dataclass
class TextConfig:
    vocab_size: int = 151936
    hidden_size: int = 1024
    intermediate_size: int = 3072
    num_hidden_layers: int = 28
    num_attention_heads: int = 16
    num_key_value_heads: int = 8
    head_dim: int = 128
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1_000_000.0
    tie_word_embeddings: bool = True


@dataclass
class ModelConfig:
    audio: AudioConfig = field(default_factory=AudioConfig)
    text: TextConfig = field(default_factory=TextConfig)

    @property
    def chunk_frames(self) -> int:
        return self.audio.n_window * 2

    @property
    def tokens_per_chunk(self) -> int:
        return conv_out_len(self.chunk_frames)

    @property
    def window_tokens(self) -> int:
        return self.tokens_per_chunk * (self.audio.n_window_infer // self.chunk_frames)


def conv_out_len(frames: int) -> int:
    """Length after three stride-2, kernel-3, padding-1 convolutions."""
    for _ in range(3):
        frames = (frames - 1) // 2 + 1
    return frames


def audio_token_count(frames: int, chunk_frames: int = 100) -> int:
    """A(F) = 13 * (F // 100) + conv_out_len(F % 100), the official `_get_feat_extract_output_lengths`."""
    rem = frames % chunk_frames
    return conv_out_len(chunk_frames) * (frames // chunk_frames) + (conv_out_len(rem) if rem else 0)


# ----------------------------------------------------------------------------------------------- encoder


class AudioAttention(nn.Module):
    def __init__(self, cfg: AudioConfig):
        super().__init__()
        self.num_heads = cfg.encoder_attention_heads
        self.head_dim = cfg.d_model // cfg.encoder_attention_heads
        self.scaling = self.head_dim**-0.5
        self.q_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=True)
        self.k_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=True)
        self.v_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=True)
        self.out_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=True)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x: [T, d]; bias: [T, T] additive (0 attend, NEG_INF blocked)."""
        t = x.shape[0]
        q = self.q_proj(x).reshape(t, self.num_heads, self.head_dim).transpose(0, 1)
        k = self.k_proj(x).reshape(t, self.num_heads, self.head_dim).transpose(0, 1)
        v = self.v_proj(x).reshape(t, self.num_heads, self.head_dim).transpose(0, 1)
        scores = torch.matmul(q, k.transpose(1, 2)) * self.scaling + bias
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(0, 1).reshape(t, -1)
        return self.out_proj(out)


class AudioEncoderLayer(nn.Module):
    def __init__(self, cfg: AudioConfig):
        super().__init__()
        self.self_attn = AudioAttention(cfg)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.d_model)
        self.fc1 = nn.Linear(cfg.d_model, cfg.encoder_ffn_dim)
        self.fc2 = nn.Linear(cfg.encoder_ffn_dim, cfg.d_model)
        self.final_layer_norm = nn.LayerNorm(cfg.d_model)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), bias)
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    log_timescale_increment = np.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2).float())
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


class AudioEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        a = cfg.audio
        self.cfg = cfg
        c = a.downsample_hidden_size
        self.conv2d1 = nn.Conv2d(1, c, 3, 2, padding=1)
        self.conv2d2 = nn.Conv2d(c, c, 3, 2, padding=1)
        self.conv2d3 = nn.Conv2d(c, c, 3, 2, padding=1)
        freq_out = conv_out_len(a.num_mel_bins)
        self.conv_out = nn.Linear(c * freq_out, a.d_model, bias=False)
        self.register_buffer("positional_embedding", sinusoids(a.max_source_positions, a.d_model), persistent=False)
        self.layers = nn.ModuleList([AudioEncoderLayer(a) for _ in range(a.encoder_layers)])
        self.ln_post = nn.LayerNorm(a.d_model)
        self.proj1 = nn.Linear(a.d_model, a.d_model)
        self.proj2 = nn.Linear(a.d_model, a.output_dim)

    def embed_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        """chunks: [N, mel, chunk_frames] (zero-padded) -> [N, tokens_per_chunk, d] with per-chunk positions."""
        x = chunks.unsqueeze(1)
        x = F.gelu(self.conv2d1(x))
        x = F.gelu(self.conv2d2(x))
        x = F.gelu(self.conv2d3(x))
        n, c, f, t = x.shape
        x = self.conv_out(x.permute(0, 3, 1, 2).reshape(n, t, c * f))
        return x + self.positional_embedding[:t].unsqueeze(0)

    def transform(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden = layer(hidden, bias)
        hidden = self.ln_post(hidden)
        return self.proj2(F.gelu(self.proj1(hidden)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """One clip, official semantics with windows: features [mel, F] -> [A(F), output_dim]."""
        mel, frames = features.shape
        cf = self.cfg.chunk_frames
        n_chunks = math.ceil(frames / cf)
        padded = F.pad(features, (0, n_chunks * cf - frames))
        chunks = padded.reshape(mel, n_chunks, cf).permute(1, 0, 2)
        embedded = self.embed_chunks(chunks)  # [N, 13, d]
        tpc = embedded.shape[1]
        valid = []
        for i in range(n_chunks):
            length = cf if (i < n_chunks - 1 or frames % cf == 0) else frames % cf
            valid.extend(range(i * tpc, i * tpc + conv_out_len(length)))
        hidden = embedded.reshape(n_chunks * tpc, -1)[torch.tensor(valid, dtype=torch.long)]
        bias = window_bias([len(valid)], self.cfg.window_tokens)
        return self.transform(hidden, bias)


def window_bias(lengths: list[int], window: int) -> torch.Tensor:
    """Block-diagonal additive mask: each clip's tokens attend inside consecutive `window`-token windows."""
    total = sum(lengths)
    bias = torch.full((total, total), NEG_INF)
    start = 0
    for length in lengths:
        for w0 in range(0, length, window):
            w1 = min(w0 + window, length)
            bias[start + w0 : start + w1, start + w0 : start + w1] = 0.0
        start += length
    return bias


# ----------------------------------------------------------------------------------------------- decoder


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """position_ids [B, S] -> cos, sin [B, 1, S, head_dim] (plain 1-D RoPE: MRoPE with equal rows)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = position_ids.float()[:, :, None] * inv_freq[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)


class TextAttention(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = cfg.head_dim
        self.scaling = cfg.head_dim**-0.5
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.num_attention_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.num_attention_heads * cfg.head_dim, cfg.hidden_size, bias=False)
        self.q_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(cfg.head_dim, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, bias, past_k=None, past_v=None):
        b, s, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(b, s, self.num_heads, self.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(b, s, self.num_kv_heads, self.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        present_k, present_v = k, v
        rep = self.num_heads // self.num_kv_heads
        t = k.shape[2]
        # expand+reshape rather than repeat_interleave: it exports to ONNX with dynamic shapes.
        k = k[:, :, None].expand(b, self.num_kv_heads, rep, t, self.head_dim).reshape(b, self.num_heads, t, self.head_dim)
        v = v[:, :, None].expand(b, self.num_kv_heads, rep, t, self.head_dim).reshape(b, self.num_heads, t, self.head_dim)
        scores = torch.matmul(q, k.transpose(2, 3)) * self.scaling + bias
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, self.num_heads * self.head_dim)
        return self.o_proj(out), present_k, present_v


class TextMLP(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.self_attn = TextAttention(cfg)
        self.mlp = TextMLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, bias, past_k=None, past_v=None):
        h, pk, pv = self.self_attn(self.input_layernorm(x), cos, sin, bias, past_k, past_v)
        x = x + h
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, pk, pv


class TextModel(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, embeds, position_ids, bias, past=None):
        """embeds [B,S,H]; bias [B,1,S,P+S]; past: list of (k, v) [B,KV,P,D] or None."""
        cos, sin = rope_cos_sin(position_ids, self.cfg.head_dim, self.cfg.rope_theta)
        presents = []
        x = embeds
        for i, layer in enumerate(self.layers):
            pk, pv = past[i] if past is not None else (None, None)
            x, nk, nv = layer(x, cos, sin, bias, pk, pv)
            presents.append((nk, nv))
        return self.norm(x), presents


class Thinker(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.audio_tower = AudioEncoder(cfg)
        self.model = TextModel(cfg.text)
        self.lm_head = nn.Linear(cfg.text.hidden_size, cfg.text.vocab_size, bias=False)
        if cfg.text.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight


class Qwen3ASR(nn.Module):
    """Top-level module: parameter names match the official checkpoint (`thinker.…`)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.thinker = Thinker(cfg)


# ----------------------------------------------------------------------------------------------- greedy reference


def causal_padding_bias(mask: torch.Tensor) -> torch.Tensor:
    """mask [B, T] (1 = real token) -> additive bias [B, 1, T, T]: causal and no attention to padding."""
    b, t = mask.shape
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    allowed = causal[None, :, :] & mask.bool()[:, None, :]
    bias = torch.zeros(b, t, t)
    bias.masked_fill_(~allowed, NEG_INF)
    return bias[:, None]


@torch.no_grad()
def greedy_reference(
    model: Qwen3ASR,
    features: list[torch.Tensor],
    prefix_ids: list[int],
    suffix_ids: list[int],
    eos_ids: list[int],
    max_new_tokens: list[int],
) -> list[list[int]]:
    """Greedy decoding of a left-padded batch without a KV cache: every step recomputes the whole sequence.

    Deliberately independent of the exported graphs and of the engine's KV-cache bookkeeping, so that a match
    between the two is evidence that both are right.
    """
    th = model.thinker
    embed = th.model.embed_tokens
    seqs = []
    for feat in features:
        audio = th.audio_tower(feat)
        seqs.append(torch.cat([embed(torch.tensor(prefix_ids)), audio, embed(torch.tensor(suffix_ids))], dim=0))
    generated: list[list[int]] = [[] for _ in features]
    done = [False] * len(features)
    for _ in range(max(max_new_tokens)):
        active = [i for i in range(len(seqs)) if not done[i]]
        if not active:
            break
        longest = max(seqs[i].shape[0] for i in active)
        hidden = seqs[0].shape[1]
        embeds = torch.zeros(len(active), longest, hidden)
        mask = torch.zeros(len(active), longest, dtype=torch.long)
        for row, i in enumerate(active):
            n = seqs[i].shape[0]
            embeds[row, longest - n :] = seqs[i]
            mask[row, longest - n :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out, _ = th.model(embeds, positions, causal_padding_bias(mask))
        logits = th.lm_head(out[:, -1])
        next_ids = logits.argmax(-1).tolist()
        for row, i in enumerate(active):
            tok = next_ids[row]
            generated[i].append(tok)
            seqs[i] = torch.cat([seqs[i], embed(torch.tensor([tok]))], dim=0)
            if tok in eos_ids or len(generated[i]) >= max_new_tokens[i]:
                done[i] = True
    return generated
