"""Same-clip cosine under real-world degradations: how far one recording moves when its channel changes.

    python studies/robustness.py ../shared/data/dev/cv_en [--model shipped runs/x/model.pt] [--n 60]

For `--n` clips (the first clip of each speaker folder, then the second, ...) each degraded copy is embedded and
compared with the clean clip (cosine; the same recording, so ideally 1). Degradations, all made here, seeded:
  8k        resampled to 8 kHz (soxr), i.e. nothing above 4 kHz
  phone     8 kHz, band-passed 300-3400 Hz (4th-order Butterworth)
  clip      12 dB of overdrive, hard-clipped at full scale
  8bit      quantised to 8 bits
  mp3       MP3 round trip at 22.05 kHz (libsndfile, compression level 0.9)
  opus      Ogg/Opus round trip at 16 kHz (libsndfile, compression level 0.9)
  reverb    convolved with a synthetic room response (exponentially decaying noise, RT60 0.6 s)
  noise     white noise at 10 dB SNR
Prints the mean cosine per degradation and the fraction of copies the model still accepts as the same speaker
(`model.score` >= `model.threshold`: AS-norm for the shipped model, cosine for plain training exports).
"""
import argparse
import io
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import butter, fftconvolve, sosfilt

from simple_speaker_embedding.audio import AUDIO_EXTS, load_audio, resample
from simple_speaker_embedding.hub import resolve_model


def roundtrip(x, sr, fmt, subtype, rate=None):
    if rate: x, sr = resample(x, sr, rate), rate
    b = io.BytesIO(); sf.write(b, x, sr, format=fmt, subtype=subtype, compression_level=0.9); b.seek(0)
    y, sr2 = sf.read(b, dtype='float32')
    return y, sr2


def degradations(x, sr, rng):
    out = {}
    out['8k'] = (resample(x, sr, 8000), 8000)
    y = resample(x, sr, 8000)
    out['phone'] = (sosfilt(butter(4, [300, 3400], 'bandpass', fs=8000, output='sos'), y).astype(np.float32), 8000)
    g = 10 ** (12 / 20) / max(np.abs(x).max(), 1e-4)
    out['clip'] = (np.clip(x * g, -1, 1).astype(np.float32), sr)
    out['8bit'] = (np.round(x * 127) / 127, sr)
    out['mp3'] = roundtrip(x, sr, 'MP3', 'MPEG_LAYER_III', rate=22050)
    out['opus'] = roundtrip(x, sr, 'OGG', 'OPUS', rate=16000)
    t = np.arange(int(0.6 * sr)) / sr
    rir = rng.standard_normal(len(t)) * 10 ** (-3 * t / 0.6); rir[0] = 1.0
    y = fftconvolve(x, rir)[:len(x)]
    out['reverb'] = ((y / np.abs(y).max() * np.abs(x).max()).astype(np.float32), sr)
    n = rng.standard_normal(len(x)).astype(np.float32)
    out['noise'] = (x + n * np.sqrt((x ** 2).mean() / (n ** 2).mean() / 10), sr)
    return out


def clips(root, n):
    spk = sorted(d for d in Path(root).rglob('*') if d.is_dir() and any(p.suffix.lower() in AUDIO_EXTS for p in d.iterdir()))
    files = [sorted(p for p in d.iterdir() if p.suffix.lower() in AUDIO_EXTS) for d in spk]
    out, k = [], 0
    while len(out) < n and any(len(f) > k for f in files):
        out += [f[k] for f in files if len(f) > k]; k += 1
    return out[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--model", nargs="+", default=["shipped"])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    files = clips(a.root, a.n)
    print(f"{len(files)} clips of {a.root}; cosine of each degraded copy with its clean original (mean; % above threshold)")
    for spec in a.model:
        m = resolve_model(spec); rng = np.random.default_rng(a.seed)
        res = {}
        for f in files:
            x, sr = load_audio(f, sr=None)
            e = m.embed_utterance(x, sr=sr)
            for k, (y, r) in degradations(x, sr, rng).items():
                e2 = m.embed_utterance(np.asarray(y, dtype=np.float32), sr=r)
                res.setdefault(k, []).append((float(e @ e2), float(m.score(e, e2))))
        th = m.threshold
        print(f"model {spec} ({m.scoring} scores, threshold {th:.3f})")
        for k, v in res.items():
            cos, sc = np.array(v).T
            print(f"  {k:<7} cosine {cos.mean():6.3f} (min {cos.min():6.3f}); accepted as the same speaker: "
                  f"{100 * (sc >= th).mean():5.1f}%")


if __name__ == "__main__":
    main()
