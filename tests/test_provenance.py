"A run cannot lie about its settings: resumes and reruns with other settings are refused, runtime settings are recorded."
import json

import pytest
import torch
from test_resume import InterruptAt

from simple_speaker_embedding.learner import train

KW = dict(epochs=3, lr=3e-3, hidden=12, layers=1, n_speakers=2, n_utterances=3, crop=(20, 30), valid_pct=0.34,
          checkpoint_every=1000, workers=0, device="cpu", seed=3)
FLAGS = ["--epochs", "3", "--lr", "0.003", "--hidden", "12", "--layers", "1", "--n-speakers", "2", "--n-utterances", "3",
         "--crop", "20", "30", "--valid-pct", "0.34", "--checkpoint-every", "1000", "--workers", "0", "--device", "cpu",
         "--seed", "3"]


def with_flag(flag, value):
    "FLAGS with one flag's value replaced."
    f = list(FLAGS); f[f.index(flag) + 1] = value; return f


@pytest.fixture
def interrupted(fixture_store, tmp_path):
    "A run stopped by Ctrl-C after its second step (its state saved, not finished)."
    with pytest.raises(KeyboardInterrupt): train(fixture_store, tmp_path / "run", cbs=[InterruptAt(real=2)], progress=False, **KW)
    assert not torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)["complete"]
    return tmp_path / "run"


@pytest.mark.parametrize("flag,value,was", [("--lr", "0.01", "lr 0.003"), ("--seed", "4", "seed 3")])
def test_a_resume_that_changes_what_is_trained_is_refused(sse, fixture_store, interrupted, flag, value, was):
    before = (interrupted / "train_state.pt").read_bytes()
    r = sse("train", fixture_store, interrupted, *with_flag(flag, value))
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0, r.stderr
    assert was in r.stderr and f"{flag[2:]} {value}" in r.stderr and "--no-resume" in r.stderr
    assert (interrupted / "train_state.pt").read_bytes() == before and not (interrupted / "model.pt").exists()


def test_a_resume_with_other_workers_is_accepted_and_recorded(sse, fixture_store, interrupted):
    r = sse("train", fixture_store, interrupted, *with_flag("--workers", "1"))
    assert r.returncode == 0, r.stderr
    segs = json.loads((interrupted / "run.json").read_text())["segments"]
    assert [s["workers"] for s in segs] == [0, 1]
    from simple_speaker_embedding.hub import load_checkpoint
    meta = load_checkpoint(interrupted / "model.pt").meta
    assert [s["workers"] for s in meta["segments"]] == [0, 1] and meta["recipe"]["lr"] == 0.003


def test_a_finished_run_rerun_never_rewrites_its_model(sse, fixture_store, tmp_path):
    out = tmp_path / "run"
    assert sse("train", fixture_store, out, *FLAGS).returncode == 0
    assert "note" not in json.loads((out / "run.json").read_text())    # a fresh run (resume on, no state) knows its settings
    model = (out / "model.pt").read_bytes()
    r = sse("train", fixture_store, out, *with_flag("--lr", "0.01"))
    assert r.returncode == 1 and "lr 0.003" in r.stderr and "lr 0.01" in r.stderr
    r = sse("train", fixture_store, out, *FLAGS)                       # the same command: nothing to do, the file kept
    assert r.returncode == 0 and "kept as it is" in r.stdout
    r = sse("train", fixture_store, out, *with_flag("--device", "cpu"), "--dev", fixture_store)   # another export setting
    assert r.returncode != 0
    assert (out / "model.pt").read_bytes() == model


def test_no_resume_starts_over(sse, fixture_store, interrupted):
    r = sse("train", fixture_store, interrupted, *with_flag("--lr", "0.01"), "--no-resume")
    assert r.returncode == 0, r.stderr
    rec = json.loads((interrupted / "run.json").read_text())
    assert rec["settings"]["lr"] == 0.01 and len(rec["segments"]) == 1 and "note" not in rec


def test_a_resume_without_run_json_says_its_first_settings_are_unknown(sse, fixture_store, interrupted):
    "A state left by a version that kept no run.json: resumed, and the record says what it cannot know."
    (interrupted / "run.json").unlink()
    r = sse("train", fixture_store, interrupted, *FLAGS)
    assert r.returncode == 0, r.stderr
    assert "first settings are not known" in json.loads((interrupted / "run.json").read_text())["note"]
