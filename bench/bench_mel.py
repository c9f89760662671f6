"""Mel front-end throughput: seconds of audio per second, ours (torch) vs librosa, same files, one run.

    python bench/bench_mel.py [FOLDER_OR_FILES ...]     (default: tests/fixtures)

Audio is loaded and resampled to 22050 Hz first; only the log-mel transform is timed.
"""
import argparse
import platform
import time
from pathlib import Path

import librosa
import numpy as np
import torch

from simple_speaker_embedding.audio import MelHParams, TacotronMel, load_audio


def audio_files(args):
    out = []
    for a in args:
        p = Path(a)
        out += sorted(q for q in p.rglob("*") if q.suffix.lower() in {".wav", ".flac", ".ogg", ".opus",
                                                                      ".mp3"}) if p.is_dir() else [p]
    return out


def librosa_logmel(x, hp):
    m = librosa.feature.melspectrogram(y=x, sr=hp.sampling_rate, n_fft=hp.filter_length, hop_length=hp.hop_length,
                                       win_length=hp.win_length, window="hann", center=True, pad_mode="reflect",
                                       power=1.0, n_mels=hp.n_mel_channels, fmin=hp.mel_fmin, fmax=hp.mel_fmax)
    return np.log(np.maximum(m, hp.clamp))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", default=[str(Path(__file__).parents[1] / "tests" / "fixtures")])
    args = ap.parse_args()
    hp = MelHParams()
    waves = [load_audio(f, sr=hp.sampling_rate)[0] for f in audio_files(args.paths)]
    secs = sum(len(w) for w in waves) / hp.sampling_rate
    mel = TacotronMel(hp)
    tensors = [torch.from_numpy(w) for w in waves]
    mel(tensors[0])  # warm-up
    with torch.inference_mode():
        t = time.perf_counter()
        for w in tensors: mel(w)
        ours = time.perf_counter() - t
    librosa_logmel(waves[0], hp)
    t = time.perf_counter()
    for w in waves: librosa_logmel(w, hp)
    ref = time.perf_counter() - t
    print(f"{len(waves)} files, {secs:.1f} s of audio; torch {torch.__version__}, librosa {librosa.__version__}, "
          f"{torch.get_num_threads()} torch threads, {platform.processor() or platform.machine()}")
    print(f"{'TacotronMel (torch.stft)':<28} {secs / ours:10.0f} s of audio / s")
    print(f"{'librosa melspectrogram':<28} {secs / ref:10.0f} s of audio / s")
    print(f"speed-up: {ref / ours:.2f}x")


if __name__ == "__main__":
    main()
