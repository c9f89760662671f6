"""One training run of the GPU ablation, sized to a wall-clock deadline shared by all runs (equal steps for all):
    python train_one.py NAME RECIPE      (env: MELS DEADLINE NPROCS BARRIER THREADS DEVICE OUTDIR PROBE)
RECIPE is the arm's recipe file (recipes/gpu/*.toml, listed by a study file in recipes/studies/); its epochs are set here.
After a short probe (a throwaway copy, all runs probing together), every run takes the slowest run's rate, chooses
the number of epochs that fits before DEADLINE, and trains exactly what `sse train ... --epochs E --rounds R` would."""
import os
import sys
import time
from pathlib import Path

import torch
from fastai.callback.core import Callback, CancelFitException

name, recipe = sys.argv[1], sys.argv[2]
MELS, DEADLINE, NPROCS = Path(os.environ['MELS']), float(os.environ['DEADLINE']), int(os.environ['NPROCS'])
BAR, OUT = Path(os.environ['BARRIER']), Path(os.environ['OUTDIR'])
DEV, PROBE = os.environ.get('DEVICE', 'cuda'), int(os.environ.get('PROBE', 30))
torch.set_num_threads(int(os.environ.get('THREADS', 2)))
from simple_speaker_embedding.callbacks import HistoryCSV
from simple_speaker_embedding.config import load_recipe
from simple_speaker_embedding.distill import DistillCallback, load_targets
from simple_speaker_embedding.hub import resolve_model
from simple_speaker_embedding.learner import config_dataloaders, finish_training, ge2e_learner, warm_start
from simple_speaker_embedding.store import load_manifest


def log(*a): print(f"[{name} {time.strftime('%H:%M:%S')}]", *a, flush=True)
t0 = time.time()
tc = load_recipe(recipe, device=DEV)            # the arm's settings; its epochs are chosen below to fit the deadline
lr, teacher = tc.lr, tc.teacher
man = load_manifest(MELS)
targets = load_targets(man, MELS, teacher) if teacher else None
dls = config_dataloaders(man, tc, targets=targets, progress=False, device=DEV)
start = resolve_model(tc.init)
def learner(cbs=()):
    extra = [DistillCallback(tc.distill_weight, tc.ge2e_weight, tc.distill)] if teacher else []
    return ge2e_learner(dls, warm_start(start), cbs=extra + list(cbs))
n_iter = len(dls.train)
log(f"data ready in {time.time() - t0:.0f} s: {n_iter} steps per epoch")

class Probe(Callback):
    def after_batch(self):
        if not self.training: return
        warm = min(5, PROBE - 2)
        if self.train_iter == warm: torch.cuda.synchronize() if DEV.startswith('cuda') else None; self.t0 = time.time()
        if self.train_iter == PROBE:
            torch.cuda.synchronize() if DEV.startswith('cuda') else None
            self.steps_per_s = (PROBE - warm) / (time.time() - self.t0); raise CancelFitException()
# everyone probes at the same time: wait for all runs to have their data ready
BAR.mkdir(parents=True, exist_ok=True); (BAR / f"ready_{name}").touch()
t_wait = time.time()
while len(list(BAR.glob('ready_*'))) < NPROCS and time.time() - t_wait < 120: time.sleep(0.5)
pl = learner([p := Probe()])
with pl.no_bar(), pl.no_logging(): pl.fit(1, lr)
(BAR / f"rate_{name}").write_text(str(p.steps_per_s)); log(f"probe: {p.steps_per_s:.2f} steps/s")
t_wait = time.time()
while len(list(BAR.glob('rate_*'))) < NPROCS and time.time() - t_wait < 60: time.sleep(0.5)
rate = min(float(f.read_text()) for f in BAR.glob('rate_*'))
steps = 0.85 * rate * (DEADLINE - 30 - time.time())
epochs = max(1, int(steps // n_iter))
log(f"slowest probe {rate:.2f} steps/s -> {epochs} epochs x {n_iter} steps = {epochs * n_iter} steps")
del pl

class HardStop(Callback):
    "Safety net: stop (and still export) if the deadline comes first; the model is then marked truncated."
    truncated = False
    def after_batch(self):
        if time.time() > DEADLINE - 15: HardStop.truncated = True; raise CancelFitException()
out = OUT / name; out.mkdir(parents=True, exist_ok=True)
learn = learner([HistoryCSV(out / 'history.csv'), HardStop()])
t1 = time.time()
with learn.no_bar(): learn.fit_one_cycle(epochs, lr)
minutes = (time.time() - t1) / 60
model = learn.model.eval().float().cpu()
hp = start.model_hparams
path, _ = finish_training(model, OUT / name, tc.with_(epochs=epochs, hidden=hp.hidden, layers=hp.layers, emb_dim=hp.emb_dim),
                          mels='train: 599 speakers x speeds 0.9/1.0/1.1 (sent to the GPU as JPEG q30 mel strips)', start=start,
                          train_minutes=round(minutes, 2), steps=learn.train_iter, truncated=HardStop.truncated,
                          device=torch.cuda.get_device_name() if DEV.startswith('cuda') else DEV)
(OUT / f"{name}.pt").write_bytes(path.read_bytes())                  # run_all.sh copies OUT/NAME.pt back
log(f"done: {learn.train_iter} steps in {minutes:.1f} min, truncated={HardStop.truncated}; "
    f"last valid: {learn.recorder.values[-1] if learn.recorder.values else None}")
