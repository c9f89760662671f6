"""Whole-job speed: embed a folder of speech and save the vectors, ours vs Resemblyzer, as a user would run it.

    python bench/bench_embed.py ../shared/data/dev/cv_en [--threads 1 2] [--runs 3] [--busy 0 2]

Each job is a fresh process, timed from start to exit: start the interpreter, import, load the model, read and resample
every file, embed, save. Ours is `sse embed DIR --out OUT --threads T`; Resemblyzer's is the loop from its README
(`preprocess_wav` + `embed_utterance` per file, then `np.save`), with `torch.set_num_threads(T)`, and is skipped when it
is not installed (`pip install resemblyzer "setuptools<81"`). Runs alternate (ours, theirs, ours, ...) after one untimed
warm-up of each (ours also with `--int8` unless `--no-int8`), so both see the same disk cache and machine state. `--busy
N` keeps N other processes spinning on the CPU during the runs (a busy machine). Prints the median wall time, times real
time, peak memory (max RSS from /usr/bin/time) and the ratio ours / Resemblyzer.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Process
from pathlib import Path

import soundfile as sf

from simple_speaker_embedding.audio import find_audio

RESEMBLYZER_JOB = """
import sys, numpy as np, torch
torch.set_num_threads(int(sys.argv[3]))
from pathlib import Path
from resemblyzer import VoiceEncoder, preprocess_wav
enc = VoiceEncoder('cpu', verbose=False)
paths = [l for l in Path(sys.argv[1]).read_text().splitlines() if l]
np.save(sys.argv[2], np.stack([enc.embed_utterance(preprocess_wav(p)) for p in paths]))
"""


def spin():
    while True: pass


def timed(cmd, env):
    "Wall seconds and peak RSS (MB) of one process."
    with tempfile.NamedTemporaryFile('r') as f:
        t0 = time.perf_counter()
        r = subprocess.run(['/usr/bin/time', '-f', '%M', '-o', f.name] + cmd, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
        if r.returncode: raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
        return wall, int(f.read().split()[-1]) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each job (after one warm-up)")
    ap.add_argument("--busy", type=int, nargs="+", default=[0], help="spinning processes beside the job")
    ap.add_argument("--model", default=None, help="our checkpoint (default: shipped)")
    ap.add_argument("--no-int8", action="store_true", help="skip the `sse embed --int8` job")
    ap.add_argument("--no-peer", action="store_true", help="skip Resemblyzer even if installed")
    args = ap.parse_args()
    files = [p.resolve() for p in find_audio(args.folder)]
    audio_s = sum(sf.info(p).duration for p in files)
    try:
        import resemblyzer  # noqa: F401
        peer = True
    except ImportError:
        peer = False; print("Resemblyzer not installed: timing ours only")
    peer = peer and not args.no_peer
    tmp = Path(tempfile.mkdtemp())
    (tmp / 'files.txt').write_text('\n'.join(map(str, files)))
    (tmp / 'resemblyzer_job.py').write_text(RESEMBLYZER_JOB)
    print(f"{args.folder}: {len(files)} files, {audio_s:.0f} s of audio; {os.cpu_count()} CPUs; {args.runs} runs each")
    print(f"{'busy':>4} {'threads':>7}  {'job':<12} {'wall s':>7} {'x real time':>11} {'peak MB':>8}", flush=True)
    for busy in args.busy:
        spinners = [Process(target=spin, daemon=True) for _ in range(busy)]
        for p in spinners: p.start()
        try:
            for th in args.threads:
                env = {**os.environ, 'OMP_NUM_THREADS': str(th)}
                jobs = {'ours': ['sse', 'embed', str(tmp / 'files.txt'), '--out', str(tmp / 'ours'), '--threads', str(th)]
                        + (['--model', args.model] if args.model else [])}
                if not args.no_int8: jobs['ours --int8'] = jobs['ours'] + ['--int8']
                if peer: jobs['resemblyzer'] = [sys.executable, str(tmp / 'resemblyzer_job.py'), str(tmp / 'files.txt'),
                                                str(tmp / 'theirs.npy'), str(th)]
                for cmd in jobs.values(): timed(cmd, env)              # warm-up: disk cache, .pyc files
                res = {k: [] for k in jobs}
                for _ in range(args.runs):
                    for k, cmd in jobs.items(): res[k].append(timed(cmd, env))
                for k, r in res.items():
                    wall = statistics.median(w for w, _ in r); mem = max(m for _, m in r)
                    print(f"{busy:>4} {th:>7}  {k:<12} {wall:7.2f} {audio_s / wall:10.0f}x {mem:8.0f}", flush=True)
                if peer:
                    for k in (k for k in res if k.startswith('ours')):
                        ratio = statistics.median(w for w, _ in res[k]) / statistics.median(w for w, _ in res['resemblyzer'])
                        print(f"{busy:>4} {th:>7}  {k} / resemblyzer wall time: {ratio:.2f}")
        finally:
            for p in spinners: p.terminate()


if __name__ == "__main__":
    main()
