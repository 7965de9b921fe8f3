#!/usr/bin/python3
"""Build the tiny random-weights Qwen3-ASR model, its test audio and the golden outputs the TS tests compare with.

    /usr/bin/python3 tools/make_tiny_model.py          # needs python3-torch python3-onnx python3-regex espeak-ng sox
    /usr/bin/python3 tools/make_tiny_model.py --precisions-only   # rewrite only the fp16/int8/int4 models
                                                                  # and their goldens from the committed fp32 one

Writes (all committed, so `npm test` needs no Python):
  test/fixtures/audio/*.wav                      speech (espeak-ng), silence, sine; 16 kHz mono s16
  test/fixtures/models/tiny-random{,-fp16,-int8,-int4}  the model under the ONNX contract, one dir per precision
                                                 (the others are rewritten from the fp32 graphs: precision.py)
  test/fixtures/models/tiny-random-hf/           the same weights as an official-style checkpoint (safetensors)
  test/fixtures/models/tiny-converted/           that checkpoint converted by tools/convert_qwen3_asr.py
  test/fixtures/golden/                          reference features and greedy token ids
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qwen3_asr import bpe  # noqa: E402
from qwen3_asr.features import log_mel  # noqa: E402
from qwen3_asr.modeling import AudioConfig, ModelConfig, Qwen3ASR, TextConfig, audio_token_count, greedy_reference  # noqa: E402
from qwen3_asr.onnx_export import (  # noqa: E402
    SUPPORTED_LANGUAGES, derive_precision, dtypes_of, export_model_dir, graph_weight_bytes, prompt_ids, rounded_like,
)
from qwen3_asr.checkpoint import bf16_rounded, save_hf_checkpoint  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "test", "fixtures")
SEED = 20261125

TINY = ModelConfig(
    audio=AudioConfig(num_mel_bins=128, d_model=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
                      downsample_hidden_size=4, output_dim=32, n_window=50, n_window_infer=800,
                      max_source_positions=1500),
    text=TextConfig(vocab_size=768, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=8, rms_norm_eps=1e-6, rope_theta=1_000_000.0,
                    tie_word_embeddings=True),
)

TOKENIZER_WORDS = ["system", "user", "assistant", "language", "None", "set", "a", "timer", "for", "five", "minutes",
                   "hello", "the", "and", "to", "please"] + SUPPORTED_LANGUAGES

# name -> how to make it. Speech sentences are in the domain of the trained model (tools/asr_corpus/grammar.py).
CLIPS = {
    "speech": ("espeak", "Set a timer for five minutes.", 165),
    "speech-long": ("espeak", "Please add milk, bread, eggs and three green apples to my shopping list, "
                              "and remind me to water the plants on Sunday morning.", 140),
    "short": ("espeak", "Hello.", 175),
    "silence": ("silence", 1.5),
    "sine": ("sine", 440.0, 2.0),
}
MAX_NEW = {"speech": 12, "speech-long": 20, "short": 7, "silence": 9, "sine": 16}


def write_wav(path: str, pcm: np.ndarray) -> None:
    data = np.clip(np.round(pcm * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(data.tobytes())


def read_wav(path: str) -> np.ndarray:
    with wave.open(path, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def make_audio() -> dict[str, np.ndarray]:
    out_dir = os.path.join(FIX, "audio")
    os.makedirs(out_dir, exist_ok=True)
    clips = {}
    for name, spec in CLIPS.items():
        path = os.path.join(out_dir, f"{name}.wav")
        if spec[0] == "espeak":
            with tempfile.TemporaryDirectory() as tmp:
                raw = os.path.join(tmp, "raw.wav")
                subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(spec[2]), "-w", raw, spec[1]], check=True)
                subprocess.run(["sox", "-D", raw, "-r", "16000", "-c", "1", "-b", "16", path, "gain", "-n", "-3"], check=True)
        elif spec[0] == "silence":
            write_wav(path, np.zeros(int(spec[1] * 16000), dtype=np.float32))
        else:
            t = np.arange(int(spec[2] * 16000)) / 16000.0
            write_wav(path, 0.5 * np.sin(2 * np.pi * spec[1] * t).astype(np.float32))
        clips[name] = read_wav(path)
    return clips


def build_model() -> Qwen3ASR:
    torch.manual_seed(SEED)
    model = Qwen3ASR(TINY)
    # Larger-than-default matrices so that audio, not just the last prompt token, decides the output: with
    # PyTorch's default init every clip decodes to the same repeated token, which would make a weak test.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed_tokens" not in name:
                p.normal_(0.0, 4.0 / np.sqrt(p.shape[1]))
    model.eval()
    return model


def min_margin(model: Qwen3ASR, feats, prefix, suffix, generated) -> float:
    """Smallest top-1 minus top-2 logit gap along each greedy path (unbatched), to keep goldens away from ties."""
    th = model.thinker
    embed = th.model.embed_tokens
    worst = float("inf")
    with torch.no_grad():
        for feat, ids in zip(feats, generated):
            seq = torch.cat([embed(torch.tensor(prefix)), th.audio_tower(feat), embed(torch.tensor(suffix))], dim=0)
            for tok in ids:
                n = seq.shape[0]
                out, _ = th.model(seq[None], torch.arange(n)[None], torch.zeros(1, 1, n, n).masked_fill(
                    ~torch.tril(torch.ones(n, n, dtype=torch.bool)), torch.finfo(torch.float32).min))
                logits = th.lm_head(out[0, -1])
                top = torch.topk(logits, 2).values
                worst = min(worst, float(top[0] - top[1]))
                seq = torch.cat([seq, embed(torch.tensor([tok]))], dim=0)
    return worst


def goldens(model: Qwen3ASR, enc: bpe.Encoder, clips: dict[str, np.ndarray], eos_ids: list[int],
            required_margin: float = 0.01) -> dict:
    prefix, suffix = prompt_ids(enc)
    names = list(CLIPS)
    feats = [torch.from_numpy(log_mel(clips[n])) for n in names]
    max_new = [MAX_NEW[n] for n in names]
    unbatched = [greedy_reference(model, [f], prefix, suffix, eos_ids, [m])[0] for f, m in zip(feats, max_new)]
    batched = greedy_reference(model, feats, prefix, suffix, eos_ids, max_new)
    assert batched == unbatched, "reference batching changed a result"
    margin = min_margin(model, feats, prefix, suffix, unbatched)
    assert margin > required_margin, f"greedy path too close to a tie ({margin}); change SEED"
    # A second stop set: the 3rd token generated for "speech" acts as EOS, so stopping is exercised.
    stop = unbatched[0][2]
    stop_ids = eos_ids + [stop]
    with_stop = greedy_reference(model, feats, prefix, suffix, stop_ids, max_new)
    forced = enc.encode("language English<asr_text>")
    forced_ids = greedy_reference(model, [feats[0]], prefix, suffix + forced, eos_ids, [max_new[0]])[0]
    # A context in the system turn (the engine's `context`, the API's `prompt`).
    context = "Set a timer, please."
    context_prefix = enc.encode(f"<|im_start|>system\n{context}<|im_end|>\n<|im_start|>user\n<|audio_start|>")
    context_ids = greedy_reference(model, [feats[0]], context_prefix, suffix, eos_ids, [max_new[0]])[0]
    return {
        "clips": names,
        "max_new_tokens": max_new,
        "unbatched": unbatched,
        "batched": batched,
        "min_logit_margin": margin,
        "extra_stop_id": stop,
        "with_extra_stop": with_stop,
        "forced_english_speech": forced_ids,
        "context": context,
        "context_prefix_ids": context_prefix,
        "context_speech": context_ids,
    }


PRECISION_DIRS = (("float16", "-fp16"), ("int8", "-int8"), ("int4", "-int4"))


def write_precisions(model: Qwen3ASR, enc: bpe.Encoder, clips: dict[str, np.ndarray], eos: list[int],
                     result: dict) -> None:
    """tiny-random-{fp16,int8,int4} from the fp32 graphs, and the reference each is compared with.

    int8/int4 goldens are exact references (the graphs compute in float32 with the dequantized weights). The
    float16 golden rounds the weights only; the graph also computes in half, so the engine test checks its
    agreement with float32 rather than equality with this reference.
    """
    models_dir = os.path.join(FIX, "models")
    src = os.path.join(models_dir, "tiny-random")
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg["qwen3_asr"].update(dtypes_of("float32"))
    cfg["qwen3_asr"]["weight_bytes"] = graph_weight_bytes(src)
    with open(os.path.join(src, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    for dtype, suffix in PRECISION_DIRS:
        derive_precision(src, os.path.join(models_dir, f"tiny-random{suffix}"), dtype)
        # int4's path has a 0.0076 gap: still ~1000x float32 rounding noise of these graphs.
        result[dtype] = goldens(rounded_like(model, dtype), enc, clips, eos, 0.005 if dtype == "int4" else 0.01)
        print(dtype, "min logit margin", result[dtype]["min_logit_margin"])


def precisions_only() -> None:
    clips = {name: read_wav(os.path.join(FIX, "audio", f"{name}.wav")) for name in CLIPS}
    tokenizer = json.load(open(os.path.join(FIX, "models", "tiny-random", "tokenizer.json")))
    enc = bpe.Encoder(tokenizer)
    eos = [enc.token_id("<|endoftext|>"), enc.token_id("<|im_end|>")]
    model = build_model()
    golden_path = os.path.join(FIX, "golden", "tiny-random.json")
    with open(golden_path) as f:
        result = json.load(f)
    assert goldens(model, enc, clips, eos)["unbatched"] == result["float32"]["unbatched"], \
        "the rebuilt model does not reproduce the committed fp32 goldens"
    write_precisions(model, enc, clips, eos, result)
    with open(golden_path, "w") as f:
        json.dump(result, f, indent=1)


def main() -> None:
    if "--precisions-only" in sys.argv[1:]:
        precisions_only()
        return
    clips = make_audio()
    golden_dir = os.path.join(FIX, "golden")
    os.makedirs(os.path.join(golden_dir, "features"), exist_ok=True)
    features = {}
    for name, pcm in clips.items():
        feat = log_mel(pcm)
        feat.astype("<f4").tofile(os.path.join(golden_dir, "features", f"{name}.f32"))
        features[name] = {"file": f"{name}.wav", "samples": int(pcm.size), "frames": int(feat.shape[1]),
                          "audio_tokens": audio_token_count(feat.shape[1])}
    with open(os.path.join(golden_dir, "features.json"), "w") as f:
        json.dump(features, f, indent=1)

    tokenizer = bpe.build_tokenizer(TOKENIZER_WORDS, vocab_size=TINY.text.vocab_size)
    enc = bpe.Encoder(tokenizer)
    eos = [enc.token_id("<|endoftext|>"), enc.token_id("<|im_end|>")]
    model = build_model()
    models_dir = os.path.join(FIX, "models")
    result = {}
    export_model_dir(model, tokenizer, os.path.join(models_dir, "tiny-random"), "tiny-random", "float32",
                     max_position_embeddings=4096)
    result["float32"] = goldens(model, enc, clips, eos)
    print("float32 min logit margin", result["float32"]["min_logit_margin"])
    write_precisions(model, enc, clips, eos, result)
    # What the bf16 checkpoint below converts back to.
    result["bfloat16_checkpoint"] = goldens(bf16_rounded(model), enc, clips, eos)
    # Encoder output of one clip, to localise a mismatch when token ids differ.
    with torch.no_grad():
        emb = model.thinker.audio_tower(torch.from_numpy(log_mel(clips["speech-long"]))).numpy()
    emb.astype("<f4").tofile(os.path.join(golden_dir, "speech-long.audio_embeds.f32"))
    result["audio_embeds_shape"] = list(emb.shape)
    result["tokenizer_samples"] = {
        s: enc.encode(s) for s in ["language English<asr_text>Set a timer for five minutes.", "hello, World 42!",
                                   "<|im_start|>system\n<|im_end|>\n", "naïve café"]
    }
    with open(os.path.join(golden_dir, "tiny-random.json"), "w") as f:
        json.dump(result, f, indent=1)

    # The same weights as an official-style checkpoint, and that checkpoint through the converter.
    hf_dir = os.path.join(models_dir, "tiny-random-hf")
    save_hf_checkpoint(model, tokenizer, hf_dir)
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_qwen3_asr.py"), hf_dir,
                    os.path.join(models_dir, "tiny-converted"), "--variant", "tiny-converted",
                    "--max-position-embeddings", "4096"], check=True)


if __name__ == "__main__":
    main()
