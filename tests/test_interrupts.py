"""How the tools behave when a run is interrupted or an input cannot be judged, as a user meets it: `sse` as a
subprocess, on a terminal (a pseudo-terminal) where the progress bar matters."""
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

SSE = [sys.executable, "-c", "from simple_speaker_embedding.cli import cli; cli()"]


def on_a_terminal(args, interrupt_when=None, timeout=300):
    "Run `sse ARGS` with a pseudo-terminal as stdin/stdout/stderr (progress bars on); send Ctrl-C (SIGINT) once "
    "`interrupt_when()` holds. Returns (exit code, everything it printed, whether it was interrupted)."
    main, sub = pty.openpty()
    p = subprocess.Popen([*SSE, *map(str, args)], stdin=sub, stdout=sub, stderr=sub, close_fds=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    os.close(sub)
    out, sent, t0 = b"", False, time.time()
    while True:
        r, _, _ = select.select([main], [], [], 0.02)
        if r:
            try: chunk = os.read(main, 65536)
            except OSError: chunk = b""                      # the other side closed: the process ended
            out += chunk
            if not chunk and p.poll() is not None: break
        elif p.poll() is not None: break
        if interrupt_when is not None and not sent and interrupt_when():
            p.send_signal(signal.SIGINT); sent = True
        assert time.time() - t0 < timeout, out.decode(errors="replace")[-3000:]
    os.close(main)
    return p.wait(), out.decode(errors="replace"), sent


@pytest.fixture(scope="module")
def mels(sse, fixture_root, tmp_path_factory):
    dst = tmp_path_factory.mktemp("mels")
    r = sse("preprocess", fixture_root, dst, "--workers", "1")
    assert r.returncode == 0 and r.stderr == "", r.stderr          # no warnings, and no progress bars in a log file
    return dst


# small and slow enough to interrupt: 8 steps an epoch (4 training speakers, 3 per batch, 4 rounds), 12 epochs
EPOCHS = 12
RUN = ["--hidden", "16", "--layers", "1", "--n-speakers", "3", "--n-utterances", "3", "--crop", "30", "40", "--rounds", "4",
       "--valid-pct", "0.34", "--epochs", str(EPOCHS), "--workers", "0", "--device", "cpu"]


def epochs_in(history:Path) -> list:
    return pd.read_csv(history).epoch.tolist()


def test_ctrl_c_then_rerun_resumes_with_the_progress_bar(mels, tmp_path):
    "Ctrl-C after a checkpoint exists, then the same command on a terminal: it resumes (no crash in the progress bar), "
    "and history.csv has each epoch once."
    out = tmp_path / "run"
    args = ["train", mels, out, *RUN, "--checkpoint-every", "5"]
    code, text, sent = on_a_terminal(args, interrupt_when=lambda: (out / "history.csv").exists() and
                                     len(epochs_in(out / "history.csv")) >= 2)
    assert sent, "the run ended before it could be interrupted: " + text[-2000:]
    assert code == 130 and "interrupted; rerun the same command to resume from" in text and "Traceback" not in text, text[-3000:]
    assert "(epoch " in text                                              # where it stopped: the state saved on Ctrl-C
    done = epochs_in(out / "history.csv")
    code, text, _ = on_a_terminal(args)
    assert code == 0 and "resuming from" in text and "Traceback" not in text, text[-3000:]
    ep = epochs_in(out / "history.csv")
    assert ep == list(range(1, EPOCHS + 1)) and ep[:len(done)] == done                # every epoch once, the earlier rows kept
    assert (out / "model.pt").exists()


def test_ctrl_c_before_the_first_checkpoint_saves_what_it_has(sse, mels, tmp_path):
    "No checkpoint yet (every 1000 steps): Ctrl-C saves the finished steps, says so truthfully, and the rerun resumes."
    out = tmp_path / "run"
    args = ["train", mels, out, *RUN, "--checkpoint-every", "1000"]
    code, text, sent = on_a_terminal(args, interrupt_when=lambda: (out / "history.csv").exists())
    assert sent and code == 130 and "Traceback" not in text, text[-3000:]
    assert (out / "train_state.pt").exists() and f"resume from {out / 'train_state.pt'} (epoch " in text
    r = sse(*args)                                                          # in a log file: one plain line per epoch
    assert r.returncode == 0 and "resuming from" in r.stdout, r.stderr[-2000:]
    assert "\r" not in r.stdout and "█" not in r.stdout and f"epoch {EPOCHS} train_loss" in r.stdout
    assert r.stderr == "", r.stderr                                       # no FutureWarning, no bars
    assert epochs_in(out / "history.csv") == list(range(1, EPOCHS + 1))


def test_interrupted_before_any_step_says_nothing_was_saved(tmp_path):
    from simple_speaker_embedding.callbacks import CheckpointCallback
    cb = CheckpointCallback(tmp_path / "train_state.pt")
    cb.learn = type("L", (), {})()                                          # no step has finished
    assert cb.interrupted() == "nothing was saved (no training step had finished); a rerun starts over"


def test_zero_byte_training_state_is_one_line(sse, mels, tmp_path):
    (tmp_path / "run").mkdir(); (tmp_path / "run" / "train_state.pt").write_bytes(b"")
    r = sse("train", mels, tmp_path / "run", *RUN)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == (f"sse train: error: cannot resume from {tmp_path / 'run' / 'train_state.pt'}: "
                                                 "not a readable training state (EOFError: empty file); delete it or pass "
                                                 "--no-resume to start over")


def test_embed_writes_both_outputs_or_neither(sse, fixture_root, tmp_path):
    (tmp_path / "x.csv").mkdir()                                           # the index cannot be written
    r = sse("embed", fixture_root, "--out", tmp_path / "x", "--model", "untrained")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "x.npy").exists() and not list(tmp_path.glob("*.tmp"))


@pytest.fixture(scope="module")
def short(tmp_path_factory, fixture_files):
    "A clip with 0.1 s of speech (9 frames after trimming), cut from a fixture."
    x, sr = sf.read(fixture_files[0], dtype="float32")
    i = int(np.argmax(np.abs(x)))
    p = tmp_path_factory.mktemp("short") / "short.wav"
    sf.write(p, x[max(0, i - sr // 20): i + sr // 20], sr)
    return p


def test_too_short_to_judge_is_refused_by_verify(sse, short, fixture_files):
    r = sse("verify", short, fixture_files[1])
    assert r.returncode == 1 and "too short to judge" in r.stderr and "different speakers" not in r.stdout, r.stdout + r.stderr
    assert "of speech after trimming silence (at least 0.23 s)" in r.stderr


def test_too_short_clips_are_left_out_of_eval_and_embed(sse, short, fixture_root, tmp_path):
    import shutil
    root = tmp_path / "dev"; shutil.copytree(fixture_root, root)
    spk = sorted((root / "cv_en").iterdir())[0]
    shutil.copy(short, spk / "short.wav")
    r = sse("eval", root, "--model", "untrained", "--bootstrap", "0", "--trials-out", tmp_path / "trials.txt")
    assert r.returncode == 0 and "too short to judge" in r.stderr, r.stderr[-2000:]
    assert "short.wav" not in (tmp_path / "trials.txt").read_text()       # not in any trial
    r = sse("embed", root, "--out", tmp_path / "e", "--model", "untrained")
    assert r.returncode == 0 and "too short to judge" in r.stderr and "1 files skipped" in r.stdout
    assert "short.wav" not in (tmp_path / "e.csv").read_text()


def test_missing_tensor_is_named(tmp_path):
    import torch

    from simple_speaker_embedding.hub import export_checkpoint, load_checkpoint
    from simple_speaker_embedding.model import GRUEmbedder
    export_checkpoint(GRUEmbedder(hidden=8, layers=1), tmp_path / "m.pt")
    ck = torch.load(tmp_path / "m.pt", weights_only=True)
    del ck["state_dict"]["proj.weight"]; ck["state_dict"]["extra.bias"] = torch.zeros(3)
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"1 missing tensor\(s\): proj.weight; 1 unexpected tensor\(s\): extra.bias"):
        load_checkpoint(tmp_path / "bad.pt")


def test_first_ctrl_c_finishes_the_step_second_stops_at_once():
    "Ctrl-C while training is a request honoured after the step in progress (never inside an optimiser step, nor lost "
    "in a DataLoader fork); a second Ctrl-C stops at once."
    import signal

    from simple_speaker_embedding.callbacks import StopOnCtrlC
    cb, before = StopOnCtrlC(), signal.getsignal(signal.SIGINT)
    with cb:
        assert signal.getsignal(signal.SIGINT) == cb._on_sigint
        cb.learn = type("L", (), {"training": True})()
        cb.after_batch()                                                    # nothing asked: goes on
        cb._on_sigint(signal.SIGINT, None)                                  # first: a request
        with pytest.raises(KeyboardInterrupt): cb.after_batch()             # ... acted on after the step
        with pytest.raises(KeyboardInterrupt): cb._on_sigint(signal.SIGINT, None)   # second: at once
    assert signal.getsignal(signal.SIGINT) is before                     # the handler from before is back
