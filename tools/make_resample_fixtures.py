#!/usr/bin/env python3
"""Resampling fixtures: broadband test audio at 8, 22.05, 44.1 and 48 kHz and, for each, the high-quality
reference resampled to 16 kHz by sox (`rate -v`, very high quality) — what test/audio-io/resample-quality.test.ts
compares the decoder's resampler against, on log-mel features.

The source is espeak-ng speech (voiced, with fricatives near the top of the 16 kHz band) plus pink noise 30 dB
down, so that every mel bin up to 8 kHz has energy. Written as 16-bit FLAC (2.5 s each).
Run: /usr/bin/python3 tools/make_resample_fixtures.py   (needs espeak-ng and sox)
"""
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "audio", "resample")
RATES = [8000, 22050, 44100, 48000]
TEXT = "She sells sixty six fresh fish, thanks."


def run(*args: str) -> None:
    subprocess.run(args, check=True)


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        speech = os.path.join(tmp, "speech.wav")
        run("espeak-ng", "-v", "en-us", "-s", "170", "-w", speech, TEXT)
        for rate in RATES:
            voiced = os.path.join(tmp, f"voiced-{rate}.wav")
            noise = os.path.join(tmp, f"noise-{rate}.wav")
            source = os.path.join(OUT, f"speech-{rate}.flac")
            run("sox", speech, "-r", str(rate), "-b", "32", "-e", "floating-point", voiced, "rate", "-v", "pad", "0.1", "0.1", "trim", "0", "2.5")
            run("sox", "-n", "-r", str(rate), "-b", "32", "-e", "floating-point", noise, "synth", "2.5", "pinknoise", "vol", "0.02")
            run("sox", "-m", voiced, noise, "-b", "16", source, "gain", "-n", "-3", "dither", "-s")
            run("sox", source, "-r", "16000", "-b", "16", os.path.join(OUT, f"speech-{rate}.sox-vhq-16k.flac"), "rate", "-v")


if __name__ == "__main__":
    main()
