"Bad input and hostile files: clear one-line errors, no code execution, no silent wrong output (issue 12)."
import subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch

from simple_speaker_embedding.audio import AudioError, to_float_audio


def sse(*args, cwd=None):
    return subprocess.run([sys.executable, "-c", "from simple_speaker_embedding.cli import cli; cli()", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("args,msg", [
    (["verify", "a.wav", "b.wav", "--threshold", "5"], "--threshold: 5 is out of range"),
    (["preprocess", "a", "b", "--speeds", "0"], "--speeds: 0 is out of range"),
    (["preprocess", "a", "b", "--speeds", "-1"], "--speeds: -1 is out of range"),
    (["train", "m", "o", "--epochs", "0"], "--epochs: 0 is out of range"),
    (["train", "m", "o", "--crop", "50", "20"], "--crop MIN MAX: 50 > 20"),
    (["embed", "x.wav", "--out", "e", "--batch-size", "-1"], "--batch-size: -1 is out of range"),
    (["embed", "x.wav", "--out", "e", "--batch-size", "0"], "--batch-size: 0 is out of range"),
    (["eval", "d", "--bootstrap", "x"], "'x' is not an integer"),
])
def test_numeric_options_are_checked_at_parse_time(args, msg):
    r = sse(*args)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_embed_out_keeps_dots_and_writes_both_files(fixture_files, tmp_path):
    from simple_speaker_embedding.cli import output_paths
    assert output_paths("run.v2") == (Path("run.v2.npy"), Path("run.v2.csv"))
    assert output_paths("a/run.npy") == (Path("a/run.npy"), Path("a/run.csv"))
    (tmp_path / "run.npy").write_bytes(b"earlier output")
    r = sse("embed", *fixture_files[:2], "--out", tmp_path / "run.v2")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "run.v2.npy").exists() and (tmp_path / "run.v2.csv").exists()
    assert (tmp_path / "run.npy").read_bytes() == b"earlier output"            # not overwritten
    assert np.load(tmp_path / "run.v2.npy").shape == (2, 256) and not list(tmp_path.glob("*.tmp"))


def test_python_api_rejects_bad_waveforms_clearly():
    from simple_speaker_embedding.hub import gru_embedder
    m = gru_embedder()
    x = (0.3 * np.sin(np.arange(22050) / 5)).astype(np.float32)
    with pytest.raises(AudioError, match="invalid sample rate 0"): m.embed_utterance(x, sr=0)
    with pytest.raises(AudioError) as e: m.embed_utterance(list(range(100_000)))
    assert len(str(e.value)) < 300 and "list of 100000 items" in str(e.value)


def test_integer_pcm_scaling_per_dtype():
    s = np.sin(np.arange(1000) / 7)
    for dt, full in ((np.int16, 32768), (np.int32, 2 ** 31)):
        q = (s * (full - 1)).astype(dt)
        np.testing.assert_allclose(to_float_audio(q), q.astype(np.float64) / full, atol=1e-6)   # not / (full - 1)
    u8 = np.round(s * 127 + 128).astype(np.uint8)                             # 8-bit WAV PCM is unsigned, centred on 128
    np.testing.assert_allclose(to_float_audio(u8), (u8.astype(float) - 128) / 128, atol=1e-6)
    assert abs(to_float_audio(u8).mean()) < 0.01



def test_crafted_train_state_does_not_execute_code(tmp_path):
    "A run folder handed over by someone: resuming must not run the pickle's code, and must say what to do."
    from simple_speaker_embedding.learner import CheckpointCallback
    marker = tmp_path / "pwned"
    class Evil:
        def __reduce__(self): return (Path.write_text, (marker, "ran"))
    torch.save({"model": Evil()}, tmp_path / "train_state.pt")
    cb = CheckpointCallback(tmp_path / "train_state.pt", resume=True)
    class FakeLearn: pass
    cb.learn = FakeLearn(); cb.learn.dls = type("D", (), {"device": torch.device("cpu"), "train": []})()
    with pytest.raises(RuntimeError, match="--no-resume"): cb.before_fit()
    assert not marker.exists()
