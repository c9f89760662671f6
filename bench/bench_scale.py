"""What it costs to train at scale: preprocessing, disk, memory and time to the first step, measured on replicas of a
training tree, and extrapolated to VoxCeleb1, VoxCeleb2 and LibriSpeech 960 h.

    python bench/bench_scale.py [--src ../shared/data/train] [--work /tmp/sse_scale] [--scales 1 4 16]
                                [--preprocess-up-to 4] [--steps 20] [--workers N]

For each scale k, the tree is SRC with every speaker folder replicated k times under new names (`<speaker>~r<j>`,
hard links: no audio is copied, and each replica is a real folder, not a symlink that the walk would visit once).
Scales up to `--preprocess-up-to` are preprocessed with `sse preprocess` (throughput, disk); larger ones reuse the 1x
store's shards k times under the new speaker names (the same bytes preprocessing would write, without the hours).
Then `sse train STORE OUT --max-steps STEPS --device cpu` runs as users run it (progress bar on), while this script
samples the resident memory of the training process and of its DataLoader workers.

Prints one table row per scale and the extrapolation; `--json FILE` writes the measurements too.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from common import FPS

CORPORA = {                # published sizes: speakers, utterances, hours (one speed)
    'VoxCeleb1 dev': (1_211, 148_642, 340),
    'VoxCeleb2 dev': (5_994, 1_092_009, 2_290),
    'LibriSpeech 960 h': (2_338, 281_241, 960),
}


COLS = ['scale', 'speakers', 'clips', 'hours', 'shards', 'disk_gb', 'preprocess_s', 'h_per_min_core', 'peak_main_gb',
        'peak_workers_gb', 'first_step_s', 'steps_per_s', 'wall_s']


def replicate(src:Path, dst:Path, k:int) -> int:
    "Hard-link every speaker folder of a `<dataset>/<speaker>/<clip>` tree k times under new speaker names."
    if (dst / '.done').exists(): return k
    shutil.rmtree(dst, ignore_errors=True)
    for ds in sorted(p for p in src.iterdir() if p.is_dir()):
        for spk in sorted(p for p in ds.iterdir() if p.is_dir()):
            for j in range(k):
                out = dst / ds.name / (spk.name if j == 0 else f"{spk.name}~r{j}")
                out.mkdir(parents=True, exist_ok=True)
                for f in spk.iterdir():
                    if f.is_file(): os.link(f, out / f.name)
    (dst / '.done').touch()
    return k


def replicate_store(one:Path, dst:Path, k:int):
    "A k-times store from the 1x store: its shards hard-linked k times, the manifest's speakers renamed per replica."
    if (dst / 'manifest.csv').exists(): return
    man = pd.read_csv(one / 'manifest.csv', dtype=str, keep_default_na=False)
    parts = []
    for j in range(k):
        m = man.copy()
        if j:
            speed = m.speaker.str.extract(r'(_sp[0-9.]+)$')[0].fillna('')          # pseudo-speakers keep their suffix
            m['speaker'] = m.speaker.str.replace(r'_sp[0-9.]+$', '', regex=True) + f"~r{j}" + speed
            m['key'] = [f"{d}/{s}/{key.split('/', 2)[2]}" for d, s, key in zip(m.dataset, m.speaker, m.key)]
        m['shard'] = [f"shards/r{j}-{Path(s).name}" for s in m.shard]
        for s in set(man.shard):
            t = dst / 'shards' / f"r{j}-{Path(s).name}"; t.parent.mkdir(parents=True, exist_ok=True)
            if not t.exists(): os.link(one / s, t)
        parts.append(m)
    pd.concat(parts).to_csv(dst / 'manifest.csv', index=False)


def md(df:pd.DataFrame) -> str:
    "A markdown table (3 significant digits), as the README shows it."
    f = lambda v: f"{v:.3g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, (int, np.integer)) else str(v)
    return '\n'.join(['| ' + ' | '.join(df.columns) + ' |', '|' + '---|' * len(df.columns)] +
                     ['| ' + ' | '.join(f(v) for v in r) + ' |' for r in df.itertuples(index=False)])


def du(path:Path) -> int:
    "Bytes of the regular files below `path` (hard links counted once per name: the size a copy would take)."
    return sum(f.stat().st_size for f in path.rglob('*') if f.is_file())


class Sampler(threading.Thread):
    "Peak resident memory of a process (main) and of its children (DataLoader workers), sampled every 0.1 s."
    def __init__(self, pid):
        super().__init__(daemon=True); self.p, self.main, self.workers, self.stop = psutil.Process(pid), 0, 0, False
    def run(self):
        while not self.stop:
            try:
                procs = self.p.children(recursive=True)
                self.main = max(self.main, self.p.memory_info().rss)
                self.workers = max(self.workers, sum(c.memory_info().rss for c in procs))
            except psutil.Error: pass
            time.sleep(0.1)


CHILD = r"""
import json, sys, time
t0 = time.time()
from fastai.callback.core import Callback
from simple_speaker_embedding import learner
class Clock(Callback):
    order = 1     # before StopAfter (60) ends the fit in the same after_batch
    t = []
    def after_batch(self):
        if self.training: Clock.t.append(time.time())
make = learner.ge2e_learner
learner.ge2e_learner = lambda *a, cbs=None, **k: make(*a, cbs=list(cbs or []) + [Clock()], **k)
from simple_speaker_embedding.cli import main
rc = main(sys.argv[2:])
t = Clock.t
json.dump(dict(rc=rc, first_step_s=t[0] - t0 if t else None, total_s=time.time() - t0, steps=len(t),
               steps_per_s=(len(t) - 2) / (t[-1] - t[1]) if len(t) > 3 else None), open(sys.argv[1], 'w'))
"""


def train_run(store:Path, out:Path, steps:int, workers) -> dict:
    shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
    res = out / 'bench.json'
    cmd = [sys.executable, '-c', CHILD, str(res), 'train', str(store), str(out / 'run'), '--max-steps', str(steps),
           '--device', 'cpu', '--no-resume'] + (['--workers', str(workers)] if workers is not None else [])
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(out / 'train.log', 'w'))
    s = Sampler(p.pid); s.start(); p.wait(); s.stop = True; s.join()
    if p.returncode: raise SystemExit(f"training failed: {(out / 'train.log').read_text()[-2000:]}")
    r = json.loads(res.read_text())
    return dict(r, wall_s=time.time() - t0, peak_main_gb=s.main / 1e9, peak_workers_gb=s.workers / 1e9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--src', default='../shared/data/train')
    ap.add_argument('--work', default='/tmp/sse_scale')
    ap.add_argument('--scales', type=int, nargs='+', default=[1, 4, 16])
    ap.add_argument('--preprocess-up-to', type=int, default=4, help='preprocess scales up to this; larger reuse the 1x shards')
    ap.add_argument('--steps', type=int, default=20, help='sse train --max-steps')
    ap.add_argument('--workers', type=int, default=None, help='sse train --workers (default: its own)')
    ap.add_argument('--cores', type=int, default=os.cpu_count(), help='processes for sse preprocess')
    ap.add_argument('--json', default=None)
    ap.add_argument('--report', default=None, help='print the tables of an earlier --json FILE without measuring')
    a = ap.parse_args()
    if a.report:
        df = pd.DataFrame(json.loads(Path(a.report).read_text()))
        print(md(df[[c for c in COLS if c in df]])); extrapolate(df, a.cores); return
    work, src = Path(a.work), Path(a.src)
    rows = []
    for k in a.scales:
        row = dict(scale=k)
        store = work / f"mels_{k}x"
        if k == 1 or k <= a.preprocess_up_to:
            tree = replicate(src, work / f"tree_{k}x", k) and work / f"tree_{k}x"
            shutil.rmtree(store, ignore_errors=True)
            t0 = time.time()
            r = subprocess.run(['sse', 'preprocess', str(tree), str(store), '--workers', str(a.cores)],
                               capture_output=True, text=True)
            if r.returncode: raise SystemExit(r.stderr[-2000:])
            row['preprocess_s'] = time.time() - t0
        else: replicate_store(work / 'mels_1x', store, k)
        man = pd.read_csv(store / 'manifest.csv', usecols=['speaker', 'frames', 'shard'])
        row.update(speakers=man.speaker.nunique(), clips=len(man), shards=man.shard.nunique(),
                   hours=man.frames.sum() / FPS / 3600, disk_gb=du(store / 'shards') / 1e9)
        if 'preprocess_s' in row: row['h_per_min_core'] = row['hours'] / (row['preprocess_s'] / 60) / a.cores
        row.update(train_run(store, work / f"run_{k}x", a.steps, a.workers))
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    df = pd.DataFrame(rows)
    print('\n' + md(df[[c for c in COLS if c in df]]))
    extrapolate(df, a.cores)
    if a.json: Path(a.json).write_text(df.to_json(orient='records', indent=1))


def extrapolate(df:pd.DataFrame, cores:int):
    "Straight-line fits against the number of clips (memory, first step) and hours (disk, preprocessing)."
    pre = df.dropna(subset=['h_per_min_core']) if 'h_per_min_core' in df else df.iloc[:0]
    rate = pre.h_per_min_core.mean() if len(pre) else float('nan')           # hours of audio per minute per core
    disk_per_h = (df.disk_gb / df.hours).mean()                               # GB per hour per speed
    b_mem, a_mem = np.polyfit(df.clips, df.peak_main_gb, 1) if len(df) > 1 else (0, df.peak_main_gb.iloc[0])
    b_t, a_t = np.polyfit(df.clips, df.first_step_s, 1) if len(df) > 1 else (0, df.first_step_s.iloc[0])
    print(f"\nslopes: preprocessing {rate:.2f} h of audio per minute per core; disk {disk_per_h:.3f} GB per hour per speed; "
          f"peak memory {a_mem:.2f} GB + {b_mem * 1e6:.0f} GB per million clips; first step {a_t:.0f} s + "
          f"{b_t * 1e6:.0f} s per million clips")
    print("\nextrapolated: 3 speeds (0.9/1.0/1.1: three mels per decoded clip, counted as three times the work);"
          " preprocessing on one 16-core machine, or on 8 such (an 8-GPU machine's 128 cores); an epoch is every"
          " (pseudo-)speaker once in batches of 32, split over the ranks with --ddp")
    out = []
    for name, (spk, utt, hours) in CORPORA.items():
        clips, h = 3 * utt, 3 * hours
        out.append({'corpus': name, 'speakers': spk, 'clips (3 speeds)': clips, 'disk GB': h * disk_per_h,
                    'train RAM GB': a_mem + b_mem * clips, 'first step min': (a_t + b_t * clips) / 60,
                    'preprocess h, 16 cores': h / (rate * 16) / 60, 'preprocess h, 128 cores': h / (rate * 128) / 60,
                    'steps per epoch': -(-3 * spk // 32), 'per rank, 8 GPUs': -(-3 * spk // 32 // 8)})
    print(md(pd.DataFrame(out)))


if __name__ == '__main__': main()
