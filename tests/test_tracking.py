"Training you can watch, and commands that show signs of life in a log: history.png, TensorBoard events, progress lines."
import os
import subprocess

import pytest
from conftest import SSE
from test_provenance import FLAGS, KW
from test_resume import InterruptAt

from simple_speaker_embedding.learner import train


def test_sse_train_log_tensorboard_writes_events_and_history_png(sse, fixture_store, tmp_path):
    out = tmp_path / "run"
    r = sse("train", fixture_store, out, *FLAGS[:FLAGS.index("--epochs")], "--epochs", "2", *FLAGS[FLAGS.index("--epochs") + 2:],
            "--log", "tensorboard")
    assert r.returncode == 0, r.stderr
    events = list((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(events[0].parent)); acc.Reload()
    assert any('valid_eer' in t for t in acc.Tags()['scalars']), acc.Tags()
    png = out / "history.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_png_after_a_resumed_run(fixture_store, tmp_path):
    with pytest.raises(KeyboardInterrupt): train(fixture_store, tmp_path, cbs=[InterruptAt(real=3)], progress=False, **KW)
    first = (tmp_path / "history.png").stat().st_mtime_ns          # drawn after the first epoch
    train(fixture_store, tmp_path, progress=False, **KW)
    assert (tmp_path / "history.png").stat().st_mtime_ns > first
    import matplotlib.image as mpimg
    assert mpimg.imread(tmp_path / "history.png").shape[1] > 600


def test_sse_eval_off_a_terminal_prints_progress_lines(fixture_root):
    "stdout and stderr to a file (not a terminal): plain progress lines, no carriage returns (interval shortened by env)."
    env = dict(os.environ, SSE_PROGRESS_EVERY="0.05")
    r = subprocess.run([SSE, "eval", str(fixture_root), "--model", "untrained", "--bootstrap", "0", "--cosine"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith(("reading:", "embedding:"))]
    assert lines and "\r" not in r.stderr and all("so far, about" in l for l in lines), r.stderr


def test_history_plot_draws_the_first_and_last_epoch_and_at_most_every_interval(tmp_path, monkeypatch):
    "A run of many short epochs draws history.png at its first epoch, then at most every `every` seconds, always at its last."
    from types import SimpleNamespace

    from simple_speaker_embedding import callbacks
    now = [0.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: now[0])
    cb = callbacks.HistoryPlot(tmp_path / "history.csv", every=20)
    drawn = []
    monkeypatch.setattr(cb, "draw", lambda: (drawn.append(cb.epoch), setattr(cb, "drawn", (now[0], cb.epoch))))
    cb.learn = SimpleNamespace(epoch=0, n_epoch=8)
    cb.before_fit()
    for e, t in enumerate([0.0, 5.0, 10.0, 21.0, 25.0, 30.0, 45.0, 46.0]):    # the clock at each epoch's end
        cb.learn.epoch, now[0] = e, t
        cb.after_epoch()
    cb.after_fit()
    assert drawn == [0, 3, 6, 7]          # 0 s; 21 s (>= 20 after 0); 45 s (>= 20 after 21); the last epoch
    cb.before_fit(); drawn.clear()
    for e in range(3): cb.learn.epoch = e; cb.after_epoch()                  # stopped early (--max-steps) at epoch 3 of 8
    cb.after_fit()
    assert drawn == [0, 2]                # the first epoch, and the one it stopped at
