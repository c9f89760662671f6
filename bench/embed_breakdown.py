"""Where the whole `sse embed` job's time goes, stage by stage, on one CPU thread; and the floor it cannot go below.

    python bench/embed_breakdown.py ../shared/data/dev/cv_en [--peer-seconds 35.6]

Times, in one process with one torch thread: starting an interpreter that imports torch (a fresh process, median of
3), decoding every file with soundfile, resampling to 22,050 Hz (soxr), trimming silences, the log-mel transform, and
the GRU over all the mels with fp32 and int8 (`quantize_int8`) weights at a few batch sizes. The decoder's work and
`import torch` are paid by any job that reads these files with a torch model; the GRU's best rate is what this model
costs. With `--peer-seconds` (Resemblyzer's whole-job wall time from `bench_embed.py`) it prints how much of a third
of that is left after the parts that do not depend on how well the rest is written.
"""
import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
import soxr
import torch
from common import SR

from simple_speaker_embedding.audio import find_audio, trim_silence
from simple_speaker_embedding.hub import gru_embedder
from simple_speaker_embedding.model import quantize_int8


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--peer-seconds", type=float, default=None, help="Resemblyzer's whole-job time (bench_embed.py)")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = find_audio(args.folder)
    t = {}
    runs = []
    for _ in range(3):
        t0 = time.perf_counter(); subprocess.run([sys.executable, "-c", "import torch"], check=True)
        runs.append(time.perf_counter() - t0)
    t['python + import torch'] = statistics.median(runs)

    def stage(name, fn, items):
        t0 = time.perf_counter(); out = [fn(x) for x in items]; t[name] = time.perf_counter() - t0
        return out
    decoded = stage('decode (soundfile)', lambda p: sf.read(p, dtype='float32', always_2d=True), files)
    mono = [x.mean(1) for x, _ in decoded]
    audio_s = sum(len(x) / sr for x, (_, sr) in zip(mono, decoded))
    wavs = stage('resample to 22050 Hz (soxr)', lambda a: soxr.resample(a[0], a[1], SR).astype(np.float32),
                 [(x, sr) for x, (_, sr) in zip(mono, decoded)])
    wavs = stage('trim silences', trim_silence, wavs)
    model = gru_embedder()
    mels = stage('log-mel (torch.stft)', lambda w: model.mel(torch.from_numpy(w)[None])[0], wavs)
    frames = sum(m.shape[0] for m in mels)
    q = quantize_int8(model)
    gru = {}
    for name, m in (('fp32', model), ('int8', q)):
        for bs in args.batch_sizes:
            t0 = time.perf_counter(); m.embed_mels(mels, batch_size=bs); gru[(name, bs)] = time.perf_counter() - t0
    print(f"{args.folder}: {len(files)} files, {audio_s:.0f} s of audio, {frames} mel frames after trimming; one thread")
    for k, v in t.items(): print(f"  {k:<30} {v:6.2f} s")
    for (name,
         bs), v in gru.items(): print(f"  {'GRU ' + name + ', batch ' + str(bs):<30} {v:6.2f} s  ({frames / v:,.0f} frames/s)")
    best = min(gru.values())
    fixed = t['python + import torch'] + t['decode (soundfile)']
    print(f"  floor: interpreter + torch + decode = {fixed:.2f} s; with the fastest GRU = {fixed + best:.2f} s; "
          "with the whole front-end = "
          f"{fixed + best + t['resample to 22050 Hz (soxr)'] + t['trim silences'] + t['log-mel (torch.stft)']:.2f} s")
    if args.peer_seconds:
        third = args.peer_seconds / 3
        print(f"  a third of the peer's {args.peer_seconds:.1f} s is {third:.2f} s: {third - fixed:.2f} s left for the "
              f"front-end and the model after the floor; the fastest GRU alone needs {best:.2f} s")


if __name__ == "__main__":
    main()
