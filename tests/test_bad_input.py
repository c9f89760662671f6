"Bad input and hostile files: clear one-line errors, no code execution, no silent wrong output (issue 12)."
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from simple_speaker_embedding.audio import AudioError, to_float_audio


@pytest.mark.parametrize("args,msg", [
    (["verify", "a.wav", "b.wav", "--threshold", "nan"], "--threshold: 'nan' is not a finite number"),
    (["preprocess", "a", "b", "--speeds", "0"], "--speeds: 0 is out of range"),
    (["preprocess", "a", "b", "--speeds", "-1"], "--speeds: -1 is out of range"),
    (["train", "m", "o", "--epochs", "0"], "--epochs: 0 is out of range"),
    (["train", "m", "o", "--crop", "50", "20"], "crop must be (MIN, MAX) with MIN <= MAX, got [50, 20]"),
    (["embed", "x.wav", "--out", "e", "--batch-size", "-1"], "--batch-size: -1 is out of range"),
    (["embed", "x.wav", "--out", "e", "--batch-size", "0"], "--batch-size: 0 is out of range"),
    (["eval", "d", "--bootstrap", "x"], "'x' is not an integer"),
])
def test_numeric_options_are_checked_at_parse_time(sse, args, msg):
    r = sse(*args)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_embed_out_keeps_dots_and_writes_both_files(sse, fixture_files, tmp_path):
    from simple_speaker_embedding.commands import output_paths
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
    from simple_speaker_embedding.callbacks import CheckpointCallback
    marker = tmp_path / "pwned"
    class Evil:
        def __reduce__(self): return (Path.write_text, (marker, "ran"))
    torch.save({"model": Evil()}, tmp_path / "train_state.pt")
    cb = CheckpointCallback(tmp_path / "train_state.pt", resume=True)
    class FakeLearn: pass
    cb.learn = FakeLearn(); cb.learn.dls = type("D", (), {"device": torch.device("cpu"), "train": []})()
    with pytest.raises(RuntimeError, match="--no-resume"): cb.before_fit()
    assert not marker.exists()


def test_symlinked_speaker_folders_are_followed_once(fixture_root, tmp_path):
    "data/README.md tells users to link corpora in: linked speaker folders count, and a link loop does not hang."
    from simple_speaker_embedding.audio import find_audio
    from simple_speaker_embedding.corpus import list_utterances
    spk = sorted(d for d in (fixture_root / "cv_en").iterdir() if d.is_dir())
    root = tmp_path / "linked"; root.mkdir()
    for d in spk[:3]: (root / d.name).symlink_to(d.resolve(), target_is_directory=True)
    (root / spk[0].name / "..").resolve()
    (tmp_path / "loop").mkdir(); (tmp_path / "loop" / "again").symlink_to(tmp_path / "loop", target_is_directory=True)
    n = sum(len(list(d.glob("*.ogg"))) for d in spk[:3])
    assert len(find_audio(root)) == n
    assert find_audio(tmp_path / "loop") == []
    utts = list_utterances(root)
    assert len(utts) == n and utts.speaker.nunique() == 3


def test_bad_model_files_give_one_line_errors(sse, tmp_path):
    import pickle
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(5000))
    (tmp_path / "foreign.pt").write_bytes(pickle.dumps({"a": [1, 2]}))
    torch.save({"format": "simple-speaker-embedding/1"}, tmp_path / "nohparams.pt")
    from simple_speaker_embedding.hub import CHECKPOINT_FORMAT
    torch.save({"format": CHECKPOINT_FORMAT, "state_dict": {}}, tmp_path / "incomplete.pt")
    for f in ("random.pt", "foreign.pt", "nohparams.pt", "incomplete.pt"):
        r = sse("verify", "a.wav", "b.wav", "--model", tmp_path / f)
        assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert str(tmp_path / f) in r.stderr


def test_resumed_history_has_one_header(fixture_store, tmp_path):
    from simple_speaker_embedding.learner import train
    kw = dict(epochs=1, hidden=8, layers=1, n_speakers=3, n_utterances=3, crop=(20, 30), valid_pct=0.34, progress=False)
    train(fixture_store, tmp_path / "run", **kw)
    train(fixture_store, tmp_path / "run", **kw)                  # a rerun resumes (here: nothing left to do)
    lines = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert sum(l.startswith("epoch") for l in lines) == 1, lines


def test_eval_skips_unreadable_files_like_embed(sse, fixture_root, tmp_path):
    import shutil
    root = tmp_path / "dev"; shutil.copytree(fixture_root / "cv_en", root)
    bad = sorted(root.glob("*/*.ogg"))[0]; bad.write_bytes(b"not audio at all")
    r = sse("eval", root, "--bootstrap", "0", "--model", "untrained")
    assert r.returncode == 0, r.stderr
    assert "skipped files" in r.stdout and "1 unreadable" in r.stdout
    assert r.stderr.count(str(bad)) == 1 and "Traceback" not in r.stderr       # reported once, with its path
    r2 = sse("embed", root, "--out", tmp_path / "e")
    assert r2.returncode == 0 and r2.stderr.count(str(bad)) == 1


@pytest.mark.parametrize("fmt,subtype,ext", [("WAV", "PCM_16", "wav"), ("MP3", "MPEG_LAYER_III", "mp3"),
                                             ("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"), ("FLAC", "PCM_16", "flac")])
def test_truncated_files_raise(fixture_files, tmp_path, fmt, subtype, ext):
    "A file cut in half must not be embedded silently from the part that decodes."
    import soundfile as sf

    from simple_speaker_embedding.audio import load_audio
    x, sr = sf.read(fixture_files[0], dtype="float32")
    full, cut = tmp_path / f"full.{ext}", tmp_path / f"cut.{ext}"
    sf.write(full, x, 48000 if subtype == "OPUS" else sr, format=fmt, subtype=subtype)
    data = full.read_bytes(); cut.write_bytes(data[:len(data) // 2])
    assert len(load_audio(full)[0]) > 0                                  # the complete file reads
    with pytest.raises(AudioError, match="truncated|not a readable"): load_audio(cut)


def test_wav_header_claiming_more_samples(fixture_files, tmp_path):
    import soundfile as sf

    from simple_speaker_embedding.audio import load_audio
    x, sr = sf.read(fixture_files[0], dtype="float32")
    sf.write(tmp_path / "a.wav", x, sr, subtype="PCM_16")
    b = bytearray((tmp_path / "a.wav").read_bytes()); i = b.find(b"data")
    b[i + 4:i + 8] = (int.from_bytes(b[i + 4:i + 8], "little") + 40000).to_bytes(4, "little")
    (tmp_path / "b.wav").write_bytes(bytes(b))
    with pytest.raises(AudioError, match="data chunk announces"): load_audio(tmp_path / "b.wav")


def test_cosine_threshold_out_of_range(sse, fixture_files):
    r = sse("verify", fixture_files[0], fixture_files[1], "--threshold", "5", "--model", "untrained")
    assert r.returncode == 1 and "must be in [-1, 1]" in r.stderr, r.stderr


def test_long_files_are_streamed(fixture_files, tmp_path, monkeypatch):
    "Files longer than 2 chunks go through the chunked reader; its mel matches the whole-file mel."
    import soundfile as sf

    from simple_speaker_embedding import audio
    x = np.concatenate([audio.load_audio(f, sr=16000)[0] for f in fixture_files[:8]])
    sf.write(tmp_path / "long.wav", x, 16000)
    monkeypatch.setattr(audio, "STREAM_CHUNK_S", 5.0)                        # a 40-s file, 5-s chunks: streamed
    calls = []
    real = audio._melspec_stream
    monkeypatch.setattr(audio, "_melspec_stream", lambda *a, **k: calls.append(1) or real(*a, chunk_s=5.0))
    streamed = audio.melspec_from_file(tmp_path / "long.wav")
    whole = audio.melspec_from_array(x, 16000)
    assert calls and abs(len(streamed) - len(whole)) <= 8
    assert (streamed[:100] - whole[:100]).abs().max() < 1e-3             # the first chunk is the same
    assert (streamed.mean(0) - whole.mean(0)).abs().max() < 0.1          # and the whole file has the same spectrum
    sf.write(tmp_path / "silent.wav", np.zeros(16000 * 12, np.float32), 16000)
    with pytest.raises(AudioError, match="silent"): audio.melspec_from_file(tmp_path / "silent.wav")


def test_tsne_gives_every_speaker_its_own_look(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from simple_speaker_embedding.plots import plot_tsne
    rng = np.random.default_rng(0)
    labels = [f"spk{k:02d}" for k in range(45) for _ in range(3)]
    fig = plot_tsne(rng.normal(size=(len(labels), 16)), labels, title="t-SNE of 135 clips of 45 speakers (test)")
    ax = fig.axes[0]
    looks = {(tuple(np.round(c.get_facecolor()[0], 3)), c.get_paths()[0].vertices.tobytes()) for c in ax.collections}
    assert len(ax.collections) == 45 and len(looks) == 45                        # colour x marker: all distinct
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 45
    assert "45 speakers" in ax.get_title()


def test_resumed_run_shows_the_loss_it_had_reached(fixture_store, tmp_path):
    "The steps replayed to reach the resume point report the saved smoothed loss, not 0.0000."
    from fastai.callback.core import Callback

    from simple_speaker_embedding.data import speaker_dataloaders
    from simple_speaker_embedding.learner import ge2e_learner
    from simple_speaker_embedding.model import GRUEmbedder
    dls = speaker_dataloaders(fixture_store, n_speakers=3, n_utterances=3, crop=(20, 30), rounds=4,
                              valid_pct=0.34, progress=False)
    class Crash(Callback):
        def after_batch(self):
            if self.training and self.train_iter == 5: raise KeyboardInterrupt   # like Ctrl-C: no final save
    ck = tmp_path / "state.pt"
    learn = ge2e_learner(dls, GRUEmbedder(hidden=8, layers=1), checkpoint=ck, checkpoint_every=4, cbs=[Crash()])
    with pytest.raises(KeyboardInterrupt), learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3)
    saved = torch.load(ck, weights_only=True)
    assert saved["train_iter"] == 4 and saved["smooth_loss"] > 0
    learn = ge2e_learner(dls, GRUEmbedder(hidden=8, layers=1), checkpoint=ck, resume=True)
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3)
    assert learn.recorder.losses[0] == pytest.approx(saved["smooth_loss"], rel=1e-4)   # replayed step: the saved loss


def test_ctrl_c_in_train_says_how_to_resume(fixture_store, tmp_path):
    import signal
    import time
    p = subprocess.Popen([sys.executable, "-c", "from simple_speaker_embedding.cli import cli; cli()", "train",
                          str(fixture_store), str(tmp_path / "run"), "--epochs", "200", "--hidden", "8", "--layers", "1",
                          "--n-speakers", "3", "--n-utterances", "3", "--crop", "20", "30", "--valid-pct", "0.34",
                          "--device", "cpu", "--checkpoint-every", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "run" / "train_state.pt").exists(): time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-2000:]
    assert "interrupted; rerun the same command to resume" in err and "Traceback" not in err


def test_embed_progress_covers_the_embedding_phase(fixture_files, tmp_path):
    import contextlib
    import io

    from simple_speaker_embedding.commands import embed_cmd
    class Terminal(io.StringIO):
        def isatty(self): return True                              # bars are drawn on a terminal only
    buf = Terminal()
    with contextlib.redirect_stderr(buf): embed_cmd(fixture_files[:3], tmp_path / "e", progress=True)
    assert "reading" in buf.getvalue() and "embedding" in buf.getvalue()
    log = io.StringIO()                                             # a log file: no bars
    with contextlib.redirect_stderr(log): embed_cmd(fixture_files[:3], tmp_path / "e", progress=True)
    assert "reading" not in log.getvalue() and "embedding" not in log.getvalue()


# --- a researcher's week: usage errors, decode errors, pipes ---

def test_a_mistyped_flag_is_named_with_the_closest_one_and_the_subcommands_usage(sse, tmp_path):
    r = sse("calibrate", tmp_path, "--taget-fa", "1%")
    assert r.returncode == 2 and r.stderr.startswith("usage: sse calibrate")
    assert "unrecognized argument: --taget-fa (did you mean --target-fa?)" in r.stderr
    r = sse("train", tmp_path, tmp_path / "out", "--max-step", "5")      # no abbreviations: not taken for --max-steps
    assert r.returncode == 2 and "--max-step (did you mean --max-steps?)" in r.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_recipe_key_gets_a_suggestion_not_the_list(sse, tmp_path):
    (tmp_path / "r.toml").write_text("lrr = 0.1\nepochs = 2\n")
    r = sse("train", tmp_path, tmp_path / "out", "--config", tmp_path / "r.toml")
    assert r.returncode == 2 and r.stderr.startswith("usage: sse train")
    last = r.stderr.strip().splitlines()[-1]
    assert "unknown setting 'lrr' (did you mean 'lr'?)" in last and "n_utterances" not in last


def test_a_corrupt_mp3_is_one_line_naming_the_decoders_complaint(sse, tmp_path, fixture_files):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 20)
    r = sse("verify", bad, fixture_files[0])
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "does not exist" not in r.stderr and "Illegal" not in r.stderr.split("error:")[0]
    assert f"{bad}: not a readable audio file" in r.stderr


def test_sse_listen_into_a_closed_pipe_ends_quietly(tmp_path):
    import subprocess

    from conftest import SSE
    conv = Path(__file__).parent / "conversation" / "three_speakers.ogg"
    r = subprocess.run(f"'{SSE}' listen '{conv}' | head -1; echo \"rc=${{PIPESTATUS[0]}}\"", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, timeout=300)
    out = r.stdout.splitlines()
    assert len(out) == 2 and out[-1] == "rc=0", r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "Broken pipe" not in r.stderr


def test_a_wav_on_stdin_is_read_by_its_header(sse, tmp_path):
    """The same audio as a WAV on stdin (no --rate) and as raw PCM with
    --rate gives the same decisions; a contradicting flag is refused."""
    import soundfile as sf

    from simple_speaker_embedding.audio import load_audio
    x, _ = load_audio(Path(__file__).parent / "conversation" / "three_speakers.ogg", sr=16000)
    sf.write(tmp_path / "c.wav", x, 16000, subtype="PCM_16")
    wav = (tmp_path / "c.wav").read_bytes()
    raw = sf.read(tmp_path / "c.wav", dtype="int16")[0].tobytes()
    a, b = sse("listen", "-", input=wav), sse("listen", "-", "--rate", "16000", input=raw)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) > 10
    r = sse("listen", "-", "--rate", "8000", input=wav)
    assert r.returncode == 1 and "--rate 8000 but its header says 16000" in r.stderr and r.stderr.strip().count("\n") == 0
