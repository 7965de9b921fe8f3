"""Byte-level BPE tokenizers in the Qwen2/Qwen3 `tokenizer.json` format.

Two uses:
- build a small tokenizer for the tiny and trained models: the 256 byte symbols, merge chains that make every
  word of a given list a single token (with and without the leading-space marker), and Qwen3-ASR's special
  tokens;
- encode text with any such tokenizer (the real Qwen3 one included) to compute prompt ids for config.json.
"""
from __future__ import annotations

import json
import unicodedata
from functools import lru_cache

import regex

# Qwen2's pre-tokenizer split pattern (tokenizer.json of Qwen2/Qwen2.5/Qwen3).
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen3-ASR's special tokens, in the order of their real ids (151643...).
SPECIAL_TOKENS = {
    "<|endoftext|>": True,
    "<|im_start|>": True,
    "<|im_end|>": True,
    "<|audio_start|>": True,
    "<|audio_end|>": True,
    "<|audio_pad|>": True,
    # Not special in the sense of skip_special_tokens: the official parser splits decoded text on it.
    "<asr_text>": False,
}


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def byte_symbols(text: str) -> str:
    table = bytes_to_unicode()
    return "".join(table[b] for b in text.encode("utf-8"))


def build_tokenizer(words: list[str], vocab_size: int | None = None) -> dict:
    """A tokenizer.json dict in which every word in `words` (and its space-prefixed form) is one token."""
    byte_order = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {sym: i for i, sym in enumerate(byte_order)}
    merges = train_merges(sorted(set(words)))
    for a, b in merges:
        vocab[a + b] = len(vocab)
    unique = sorted(set(words))

    specials = list(SPECIAL_TOKENS)
    first_special = len(vocab)
    total = first_special + len(specials)
    if vocab_size is None:
        vocab_size = total
    if vocab_size < total:
        raise ValueError(f"vocab_size {vocab_size} < {total} tokens needed")
    added = []
    for i, tok in enumerate(specials):
        added.append(
            {
                "id": first_special + i,
                "content": tok,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": SPECIAL_TOKENS[tok],
            }
        )
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        },
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
    enc = Encoder(tokenizer)
    for w in unique:
        for form in (w, " " + w):
            ids = enc.encode(form)
            assert len(ids) == 1, f"{form!r} encodes to {ids}"
    return tokenizer


def train_merges(words: list[str]) -> list[tuple[str, str]]:
    """Plain BPE training over the words (bare and space-prefixed, equal weights) until each is one symbol.

    Encoding replays merges in training order, so every training word comes back as the single token it
    became here (asserted by `build_tokenizer`).
    """
    corpus = [list(byte_symbols(w)) for w in words] + [list(byte_symbols(" " + w)) for w in words]
    merges: list[tuple[str, str]] = []
    while True:
        counts: dict[tuple[str, str], int] = {}
        for parts in corpus:
            for pair in zip(parts, parts[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return merges
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        for parts in corpus:
            i = 0
            while i < len(parts) - 1:
                if (parts[i], parts[i + 1]) == best:
                    parts[i : i + 2] = [parts[i] + parts[i + 1]]
                i += 1


def tokenizer_from_vocab_merges(vocab: dict[str, int], merges: list[str], added_tokens: list[dict]) -> dict:
    """Assemble a Qwen2-style tokenizer.json from vocab.json + merges.txt + tokenizer_config's added tokens."""
    tok = build_tokenizer([])
    tok["model"]["vocab"] = vocab
    tok["model"]["merges"] = merges
    tok["added_tokens"] = added_tokens
    return tok


class Encoder:
    """Encodes text with a byte-level BPE tokenizer.json (added tokens matched first, as HF tokenizers does)."""

    def __init__(self, tokenizer: dict):
        model = tokenizer["model"]
        self.vocab: dict[str, int] = model["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: t for t, i in self.added.items()})
        self.byte_decoder = {c: b for b, c in bytes_to_unicode().items()}
        self.pattern = regex.compile(QWEN2_PATTERN)
        self.added_pattern = (
            regex.compile("(" + "|".join(regex.escape(t) for t in sorted(self.added, key=len, reverse=True)) + ")")
            if self.added
            else None
        )

    def token_id(self, token: str) -> int:
        if token in self.added:
            return self.added[token]
        return self.vocab[token]

    def _bpe(self, symbols: str) -> list[str]:
        parts = list(symbols)
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        return parts

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        pieces = self.added_pattern.split(text) if self.added_pattern else [text]
        for piece in pieces:
            if not piece:
                continue
            if piece in self.added:
                ids.append(self.added[piece])
                continue
            piece = unicodedata.normalize("NFC", piece)
            for word in self.pattern.findall(piece):
                for sym in self._bpe(byte_symbols(word)):
                    ids.append(self.vocab[sym])
        return ids

    def decode(self, ids: list[int]) -> str:
        out = bytearray()
        text = ""
        for i in ids:
            tok = self.id_to_token[i]
            if tok in self.added:
                text += out.decode("utf-8", errors="replace") + tok
                out = bytearray()
            else:
                out.extend(self.byte_decoder[c] for c in tok)
        return text + out.decode("utf-8", errors="replace")


def save(tokenizer: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
