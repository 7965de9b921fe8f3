"""Synthetic speech with espeak-ng and sox: several accents, voice variants, speeds, pitch, pauses, gain, noise.

Voices are split three ways so the evaluation can tell memorisation from recognition:
- TRAIN_ACCENTS x TRAIN_VARIANTS: used for training (and for held-out sentences with seen voices);
- TRAIN_ACCENTS x HELDOUT_VARIANTS: voice variants never heard in training;
- HELDOUT_ACCENT: an English accent never heard in training (the harder, second figure).
"""
from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass

import numpy as np

from .grammar import spoken

TRAIN_ACCENTS = ["en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan"]
HELDOUT_ACCENT = "en-gb-x-gbcwmd"
TRAIN_VARIANTS = ["", "male1", "male2", "male3", "male4", "male5", "male6", "female1", "female2", "female3",
                  "female4", "klatt", "klatt2", "Andy", "Annie", "Denis", "Gene", "Jacky", "Lee", "Mike"]
HELDOUT_VARIANTS = ["male7", "female5", "klatt3", "Alex", "Michael"]
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Voice:
    accent: str
    variant: str
    rate: int  # words per minute
    pitch: int  # 0-99
    word_gap: int  # 10 ms units

    @property
    def name(self) -> str:
        return self.accent + (f"+{self.variant}" if self.variant else "")


def random_voice(rng: random.Random, accents: list[str], variants: list[str]) -> Voice:
    return Voice(rng.choice(accents), rng.choice(variants), rng.randint(130, 190), rng.randint(30, 70),
                 rng.choice([0, 0, 0, 1, 2, 3]))


def speak(text: str, voice: Voice) -> np.ndarray:
    """espeak-ng → sox → 16 kHz mono float32."""
    espeak = subprocess.run(
        ["espeak-ng", "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch), "-g", str(voice.word_gap),
         "--stdout", spoken(text)],
        check=True, capture_output=True,
    )
    sox = subprocess.run(
        ["sox", "-V1", "-D", "-t", "wav", "-", "-r", str(SAMPLE_RATE), "-c", "1", "-t", "raw", "-e", "float", "-b", "32", "-",
         "gain", "-n", "-3"],
        input=espeak.stdout, check=True, capture_output=True,
    )
    return np.frombuffer(sox.stdout, dtype="<f4").copy()


def augment(audio: np.ndarray, rng: random.Random, pauses: bool = True, noise: bool = True) -> np.ndarray:
    """Random gain (−14 to −1 dB below the normalised peak), leading/trailing pauses and light white noise."""
    out = audio * (10 ** (-rng.uniform(1, 14) / 20))
    if pauses:
        lead = np.zeros(int(rng.uniform(0.05, 0.6) * SAMPLE_RATE), dtype=np.float32)
        tail = np.zeros(int(rng.uniform(0.05, 0.6) * SAMPLE_RATE), dtype=np.float32)
        out = np.concatenate([lead, out, tail])
    if noise:
        level = np.sqrt(np.mean(out**2) + 1e-12) * 10 ** (-rng.uniform(20, 45) / 20)
        nrng = np.random.default_rng(rng.getrandbits(32))
        out = out + nrng.normal(0, level, out.shape)
    return np.clip(out, -1, 1).astype(np.float32)
