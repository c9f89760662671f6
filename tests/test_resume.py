"Resume: a run interrupted at any step, also while replaying the steps it had done, ends where an uninterrupted run ends."

import pandas as pd
import pytest
import torch
from fastai.callback.core import Callback

from simple_speaker_embedding.learner import train

KW = dict(epochs=3, lr=3e-3, hidden=12, layers=1, n_speakers=2, n_utterances=3, crop=(20, 30), valid_pct=0.34,
          checkpoint_every=1000, workers=0, device="cpu", progress=False, seed=3)   # 2 steps an epoch, 6 in all


class InterruptAt(Callback):
    "Ctrl-C honoured after the `real`-th optimiser step, or after the `replayed`-th batch skipped on a resume."
    order = 64   # after CheckpointCallback (61, ProgressCallback.order + 1)
                 # has counted the step, and after StopAfter, StopOnCtrlC
    def __init__(self, real=None,
                 replayed=None): self.real, self.replayed, self.n_real, self.n_replayed, self.skip = real, replayed, 0, 0, False
    def after_step(self): self.n_real += 1
    def after_cancel_batch(self): self.skip = True
    def after_batch(self):
        if not self.training: return
        if self.skip: self.n_replayed += 1
        hit = self.n_replayed == self.replayed if self.skip else self.n_real == self.real and not self.skip
        self.skip = False
        if hit: raise KeyboardInterrupt()


@pytest.fixture(scope="module")
def mels(fixture_store):
    return fixture_store


@pytest.fixture(scope="module")
def uninterrupted(mels, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    run = train(mels, out, **KW)
    return run.model.state_dict(), pd.read_csv(out / "history.csv"), run.steps


def check_same(run, out, uninterrupted):
    sd, hist, steps = uninterrupted
    for k, v in sd.items(): torch.testing.assert_close(run.model.state_dict()[k], v, atol=1e-6, rtol=1e-5)
    h = pd.read_csv(out / "history.csv")
    assert h.epoch.tolist() == [1, 2, 3]                                   # one row per epoch (counted
                                                                           # from 1), none lost, none twice
    pd.testing.assert_frame_equal(h[["epoch", "valid_loss", "valid_eer"]], hist[["epoch", "valid_loss", "valid_eer"]], atol=1e-4)
    assert run.steps == steps == 6                                         # every step counted, also those before the resume


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_interrupted_after_any_step_resumes_to_the_same_run(mels, tmp_path, uninterrupted, k):
    with pytest.raises(KeyboardInterrupt, match="rerun the same command to resume"):
        train(mels, tmp_path, cbs=[InterruptAt(real=k)], **KW)
    st = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert (st["epoch"], st["iter"], st["train_iter"]) == ((k - 1) // 2, (k - 1) % 2 + 1, k) and not st["complete"]
    check_same(train(mels, tmp_path, **KW), tmp_path, uninterrupted)


def test_interrupted_again_while_replaying_skipped_steps(mels, tmp_path, uninterrupted):
    with pytest.raises(KeyboardInterrupt): train(mels, tmp_path, cbs=[InterruptAt(real=5)], **KW)
    saved = torch.load(tmp_path / "train_state.pt", weights_only=True)
    with pytest.raises(KeyboardInterrupt): train(mels, tmp_path, cbs=[InterruptAt(replayed=1)], **KW)   # epoch 2, step 0 replayed
    again = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert (again["epoch"], again["iter"], again["train_iter"]) == (saved["epoch"], saved["iter"], saved["train_iter"])
    for k, v in saved["model"].items(): assert torch.equal(again["model"][k], v)      # the replay changed nothing
    check_same(train(mels, tmp_path, **KW), tmp_path, uninterrupted)


def test_a_finished_run_rerun_does_nothing_and_counts_its_minutes(mels, tmp_path, uninterrupted):
    first = train(mels, tmp_path, **KW)
    rows = (tmp_path / "history.csv").read_text()
    saved = torch.load(tmp_path / "train_state.pt", weights_only=True)['minutes']   # the whole run's, at its last save
    again = train(mels, tmp_path, **KW)
    assert (tmp_path / "history.csv").read_text() == rows and again.steps == 6
    # minutes of the whole run, not of the rerun. (Not `>= first.minutes`: the first run's count goes on after its last
    # save, through the end-of-fit plot, and a quick rerun need not make that up: it failed so on a busy machine.)
    assert first.minutes >= saved > 0 and again.minutes >= saved


def test_max_steps_schedules_the_epochs_those_steps_need(mels, tmp_path, capsys):
    run = train(mels, tmp_path / "a", **{**KW, "epochs": 8, "max_steps": 3})
    assert run.learn.n_epoch == 2 and run.steps == 3                     # ceil(3 / 2) epochs in the one-cycle schedule
    run = train(mels, tmp_path / "b", **{**KW, "epochs": 2, "max_steps": 40})
    assert run.steps == 4
    assert "max_steps 40 is more than the 2 epochs x 2 steps = 4 steps the run has: it stops after 4" in capsys.readouterr().err


class Crash(Callback):
    "A crash (no Ctrl-C handling, as after kill -9) at the `n`-th batch replayed on a resume, or after the `real`-th step."
    order = 64
    def __init__(self, n=None, real=None): self.n, self.real, self.seen, self.steps, self.skip = n, real, 0, 0, False
    def after_cancel_batch(self): self.skip = True
    def after_step(self): self.steps += 1
    def after_batch(self):
        if self.training and self.real is not None and self.steps == self.real and not self.skip: raise RuntimeError("crash")
        if self.training and self.skip:
            self.seen += 1; self.skip = False
            if self.seen == self.n: raise RuntimeError("crash")


def test_no_checkpoint_is_written_while_replaying(mels, tmp_path, uninterrupted):
    "Checkpoints every step: a resume replays the steps done without saving over the state it resumed from."
    kw = {**KW, "checkpoint_every": 1}
    with pytest.raises(KeyboardInterrupt): train(mels, tmp_path, cbs=[InterruptAt(real=4)], **kw)
    saved = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert (saved["epoch"], saved["iter"], saved["train_iter"]) == (1, 2, 4)
    with pytest.raises(RuntimeError, match="crash"): train(mels, tmp_path, cbs=[Crash(1)], **kw)   # epoch 1 replayed: 2 batches
    again = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert (again["epoch"], again["iter"], again["train_iter"]) == (1, 2, 4)
    check_same(train(mels, tmp_path, **kw), tmp_path, uninterrupted)


def test_an_epoch_logged_before_a_crash_is_logged_once_after_the_resume(mels, tmp_path, uninterrupted):
    """Saved at the end of epoch 0, validated and logged, then killed
    during epoch 1: the resume replays epoch 0 and replaces its row."""
    kw = {**KW, "checkpoint_every": 2}
    with pytest.raises(RuntimeError, match="crash"): train(mels, tmp_path, cbs=[Crash(real=3)], **kw)
    assert pd.read_csv(tmp_path / "history.csv").epoch.tolist() == [1]
    st = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert (st["epoch"], st["iter"]) == (0, 2)
    check_same(train(mels, tmp_path, **kw), tmp_path, uninterrupted)


def test_minutes_and_steps_add_up_over_two_resumes(mels, tmp_path):
    "A run stopped twice: its steps are every step once, its minutes the sum of the three segments' (timed here)."
    import time
    spent = []
    for cbs in ([InterruptAt(real=1)], [InterruptAt(real=2)], []):
        t0 = time.time()
        try: run = train(mels, tmp_path, cbs=cbs, **KW)
        except KeyboardInterrupt: pass
        spent.append((time.time() - t0) / 60)
    assert run.steps == 6
    assert sum(spent) * 0.5 < run.minutes <= sum(spent) * 1.05, (run.minutes, spent)   # (model building and loading not counted)
    st = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert st["minutes"] == pytest.approx(run.minutes, abs=0.05)
