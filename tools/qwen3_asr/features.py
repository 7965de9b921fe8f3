"""Reference log-mel features, exactly as Qwen3-ASR's processor computes them.

Qwen3-ASR uses transformers' WhisperFeatureExtractor with feature_size=128; with torch installed it takes the
`_torch_extract_fbank_features` path reproduced here (periodic Hann, n_fft 400, hop 160, centred STFT with
reflect padding, power spectrum without the last frame, Slaney mel filters over 0-8 kHz, log10 clamped at
1e-10, floor at max-8, then (x+4)/4). One clip at a time: batching in the official processor pads clips to the
longest one before the STFT, which changes the last frames of shorter clips; we never do that.
"""
from __future__ import annotations

import numpy as np
import torch


def hertz_to_mel_slaney(freq):
    min_log_hertz, min_log_mel, logstep = 1000.0, 15.0, 27.0 / np.log(6.4)
    mels = 3.0 * np.asarray(freq, dtype=np.float64) / 200.0
    mels = np.array(mels, dtype=np.float64)
    region = np.asarray(freq) >= min_log_hertz
    mels[region] = min_log_mel + np.log(np.asarray(freq, dtype=np.float64)[region] / min_log_hertz) * logstep
    return mels


def mel_to_hertz_slaney(mels):
    min_log_hertz, min_log_mel, logstep = 1000.0, 15.0, np.log(6.4) / 27.0
    mels = np.asarray(mels, dtype=np.float64)
    freq = 200.0 * mels / 3.0
    region = mels >= min_log_mel
    freq[region] = min_log_hertz * np.exp(logstep * (mels[region] - min_log_mel))
    return freq


def mel_filter_bank(num_frequency_bins=201, num_mel_filters=128, min_frequency=0.0, max_frequency=8000.0, sampling_rate=16000):
    """transformers.audio_utils.mel_filter_bank(norm="slaney", mel_scale="slaney") -> [freq_bins, mels] float64."""
    mel_min = hertz_to_mel_slaney(np.array([min_frequency]))[0]
    mel_max = hertz_to_mel_slaney(np.array([max_frequency]))[0]
    mel_freqs = np.linspace(mel_min, mel_max, num_mel_filters + 2)
    filter_freqs = mel_to_hertz_slaney(mel_freqs)
    fft_freqs = np.linspace(0, sampling_rate // 2, num_frequency_bins)
    filter_diff = np.diff(filter_freqs)
    slopes = np.expand_dims(filter_freqs, 0) - np.expand_dims(fft_freqs, 1)
    down = -slopes[:, :-2] / filter_diff[:-1]
    up = slopes[:, 2:] / filter_diff[1:]
    filters = np.maximum(np.zeros(1), np.minimum(down, up))
    enorm = 2.0 / (filter_freqs[2 : num_mel_filters + 2] - filter_freqs[:num_mel_filters])
    return filters * np.expand_dims(enorm, 0)


def log_mel(waveform: np.ndarray, n_mels: int = 128, n_fft: int = 400, hop: int = 160, sr: int = 16000) -> np.ndarray:
    """float32 PCM at 16 kHz -> [n_mels, len // hop] float32."""
    filters = mel_filter_bank(1 + n_fft // 2, n_mels, 0.0, 8000.0, sr)
    wave = torch.from_numpy(np.asarray(waveform, dtype=np.float32))
    window = torch.hann_window(n_fft)
    stft = torch.stft(wave, n_fft, hop, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    mel_spec = torch.from_numpy(filters).type(torch.float32).T @ magnitudes
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).numpy()


def normalize_waveform(audio: np.ndarray) -> np.ndarray:
    """qwen_asr.inference.utils.float_range_normalize: divide by the peak only when it exceeds 1, then clip."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        return audio
    if peak > 1.0:
        audio = audio / peak
    return np.clip(audio, -1.0, 1.0)
