#!/usr/bin/env bash
# Regenerates test/fixtures/audio/formats/: one espeak-ng sentence in every upload format the service
# decodes, plus a few broken files for the error tests. The outputs are committed, so tests never need
# ffmpeg, sox or espeak-ng; run this only to change or rebuild the fixtures.
#
#   tools/make_audio_fixtures.sh            # needs espeak-ng (1.51), ffmpeg (5.1 with libmp3lame,
#                                            # libopus, libvorbis), coreutils; no network
#
# Reproducible: espeak-ng is deterministic, every ffmpeg output is written with bitexact flags and no
# metadata (no encoder version strings, no dates), and no step dithers. Other encoder versions may
# produce different bytes but the same sentence; the tests compare decoded audio, never bytes.
#
# Outputs (the source is espeak-ng's 22.05 kHz mono s16 with silence trimmed: 35,655 samples = 1.6170 s):
#   speech-16k-mono-s16.wav      PCM s16, 16 kHz mono (the model's native rate: no resampling)
#   speech-44k1-stereo-s16.wav   PCM s16, 44.1 kHz stereo; right = 0.5 × left, so a downmix is audible
#   speech-16k-mono-f32.wav      IEEE float32 WAV, 16 kHz mono
#   speech-8k-mono-s24.wav       PCM s24 in WAVE_FORMAT_EXTENSIBLE, 8 kHz mono (the lowest accepted rate)
#   speech.flac                  FLAC, 16 kHz mono
#   speech.mp3                   MP3 (LAME, 48 kbit/s), 22.05 kHz mono, with a LAME/Xing header
#   speech.opus.ogg              Opus in Ogg, 48 kHz mono, 32 kbit/s
#   speech.vorbis.ogg            Vorbis in Ogg, 22.05 kHz mono
#   speech.m4a                   AAC-LC in MP4, 44.1 kHz mono, 64 kbit/s
#   speech.webm                  Opus in WebM (Matroska), 48 kHz mono, 32 kbit/s
#   broken-truncated.wav         speech-16k-mono-s16.wav cut to its first 16,044 bytes (0.5 s of the
#                                declared 1.62 s): decodes to the 0.5 s that is there
#   broken-header-only.wav       the 44-byte header of speech-16k-mono-s16.wav, no samples
#   broken-zero-data.wav         a valid WAV whose data chunk is empty
#   broken-truncated.m4a         speech.m4a cut in half: its moov box (at the end) is gone
#   broken-truncated.mp3         the first 300 bytes of speech.mp3: a header and no whole audio frame
#   broken-not-audio.wav         plain text with a .wav name
#   bomb-5h-silence.flac         5 h of 8 kHz digital silence in 65,535-sample frames: 39 KB that decode to
#                                144 M samples (576 MB as float), for the decompression-bomb tests
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=test/fixtures/audio/formats
SENTENCE="Set a timer for five minutes."
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Bitexact: no encoder/version tags or timestamps in the files, so reruns give the same bytes.
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y -i "$WORK/source.wav" -map_metadata -1 \
  -fflags +bitexact -flags:a +bitexact "$@"; }

espeak-ng -v en-us -w "$WORK/espeak.wav" "$SENTENCE"
# Trim espeak's leading/trailing silence (keeps the files small); -D: never dither, so reruns match.
sox -D "$WORK/espeak.wav" "$WORK/source.wav" silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse

ff -ar 16000 -ac 1 -c:a pcm_s16le "$OUT/speech-16k-mono-s16.wav"
ff -af "pan=stereo|c0=c0|c1=0.5*c0" -ar 44100 -c:a pcm_s16le "$OUT/speech-44k1-stereo-s16.wav"
ff -ar 16000 -ac 1 -c:a pcm_f32le "$OUT/speech-16k-mono-f32.wav"
# A 24-bit WAV is written as WAVE_FORMAT_EXTENSIBLE by ffmpeg (more than 16 bits per sample).
ff -ar 8000 -ac 1 -c:a pcm_s24le "$OUT/speech-8k-mono-s24.wav"
ff -ar 16000 -ac 1 -c:a flac -compression_level 8 "$OUT/speech.flac"
ff -ar 22050 -ac 1 -c:a libmp3lame -b:a 48k "$OUT/speech.mp3"
ff -ar 48000 -ac 1 -c:a libopus -b:a 32k -f ogg "$OUT/speech.opus.ogg"
ff -ar 22050 -ac 1 -c:a libvorbis -q:a 2 -f ogg "$OUT/speech.vorbis.ogg"
ff -ar 44100 -ac 1 -c:a aac -b:a 64k -f mp4 "$OUT/speech.m4a"
ff -ar 48000 -ac 1 -c:a libopus -b:a 32k -f webm "$OUT/speech.webm"

# Broken files. 44 header bytes + 0.5 s × 16000 × 2 bytes = 16,044.
head -c 16044 "$OUT/speech-16k-mono-s16.wav" > "$OUT/broken-truncated.wav"
head -c 44 "$OUT/speech-16k-mono-s16.wav" > "$OUT/broken-header-only.wav"
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i anullsrc=r=16000:cl=mono -t 0 \
  -map_metadata -1 -fflags +bitexact -flags:a +bitexact -c:a pcm_s16le "$OUT/broken-zero-data.wav"
M4A_BYTES=$(stat -c %s "$OUT/speech.m4a")
head -c $((M4A_BYTES / 2)) "$OUT/speech.m4a" > "$OUT/broken-truncated.m4a"
head -c 300 "$OUT/speech.mp3" > "$OUT/broken-truncated.mp3"
printf 'This is not audio, whatever its name says.\n' > "$OUT/broken-not-audio.wav"
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i anullsrc=r=8000:cl=mono -t 18000 \
  -map_metadata -1 -fflags +bitexact -flags:a +bitexact -c:a flac -frame_size 65535 "$OUT/bomb-5h-silence.flac"

ls -l "$OUT"
du -ch "$OUT"/* | tail -1
