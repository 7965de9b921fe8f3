#!/usr/bin/python3
"""The long-audio fixture: about 10 minutes of espeak-ng speech of a known script, with pauses.

    /usr/bin/python3 tools/make_long_audio.py      # needs espeak-ng, sox, opus-tools via ffmpeg

Held-out sentences of the training grammar (tools/asr_corpus/grammar.py), one en-us voice, short pauses between
sentences (0.25-0.9 s) and every ~12th sentence a long pause (2.5-4 s, which the chunker skips). Written as
Ogg/Opus (32 kbit/s, so 10 minutes stay ~2.5 MB) plus a JSON script with every sentence's time span.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from asr_corpus import grammar  # noqa: E402
from asr_corpus.synth import SAMPLE_RATE, Voice, speak  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "audio")
TARGET_SECONDS = 600


def main() -> None:
    rng = random.Random(20261125)
    voice = Voice("en-us", "", 165, 50, 1)
    pieces, script, at = [], [], 0
    while at < TARGET_SECONDS * SAMPLE_RATE:
        sentence = grammar.sample(rng, held_out=True)
        audio = speak(sentence, voice) * 0.5
        script.append({"text": sentence, "start": at / SAMPLE_RATE, "end": (at + audio.size) / SAMPLE_RATE})
        pause = rng.uniform(2.5, 4.0) if len(script) % 12 == 0 else rng.uniform(0.25, 0.9)
        gap = np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32)
        pieces.extend([audio, gap])
        at += audio.size + gap.size
    pcm = np.concatenate(pieces)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "long.raw")
        (np.clip(pcm, -1, 1) * 32767).astype("<i2").tofile(raw)
        out = os.path.join(OUT, "long-10min.ogg")
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", raw,
                        "-c:a", "libopus", "-b:a", "32k", out], check=True)
    with open(os.path.join(OUT, "long-10min.json"), "w") as f:
        json.dump({"seconds": pcm.size / SAMPLE_RATE, "voice": voice.name, "sentences": script}, f, indent=1)
    print(f"{len(script)} sentences, {pcm.size / SAMPLE_RATE:.1f} s")


if __name__ == "__main__":
    main()
