"The `sse` command, called as a user would: as a subprocess."
import re
import subprocess
import sys

import pytest


def test_demo_prints_a_similarity_matrix_with_the_trained_model(sse):
    r = sse("demo")
    assert r.returncode == 0, r.stderr
    assert "UNTRAINED" not in r.stdout                      # trained weights ship
    rows = [l for l in r.stdout.splitlines() if l.startswith("speaker")]
    assert len(rows) == 6 and all(len(l.split()) == 8 for l in rows)
    assert all(l.split()[i + 1] == "1.000" for i, l in enumerate(rows))  # diagonal
    sims = [[float(v) for v in l.split()[1:7]] for l in rows]
    assert sims[0][1] > max(sims[0][2:]) and sims[2][3] > max(sims[2][:2] + sims[2][4:])   # speakers 1 and 2 pair up


def test_demo_on_user_files(sse, fixture_files):
    r = sse("demo", str(fixture_files[0]), str(fixture_files[5]))
    assert r.returncode == 0, r.stderr
    assert fixture_files[5].name in r.stdout


def test_demo_bad_file_is_one_clear_line(sse, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    r = sse("demo", str(bad))
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "empty" in r.stderr and "Traceback" not in r.stderr


def test_hparams(sse):
    from simple_speaker_embedding.hub import gru_embedder
    r = sse("hparams")
    assert r.returncode == 0 and "min_log_value  :  -11.52" in r.stdout
    assert f"hidden  :  {gru_embedder().model_hparams.hidden}" in r.stdout      # the shipped model's architecture


def test_usage_errors_exit_2(sse):
    assert sse("no-such-command").returncode == 2
    assert sse().returncode == 2


def test_help_has_examples(sse):
    r = sse("--help")
    assert r.returncode == 0 and "examples:" in r.stdout
    r = sse("demo", "--help")
    assert r.returncode == 0 and "sse demo" in r.stdout


def test_eval_prints_table_and_writes_trials_and_plots(sse, fixture_root, tmp_path):
    r = sse("eval", str(fixture_root), "--model", "untrained", "--trials-out", str(tmp_path / "t.txt"),
            "--plot", str(tmp_path / "plots"), "--bootstrap", "20")
    assert r.returncode == 0, r.stderr
    for key in ("EER (%)", "95% CI (%)", "minDCF (p=0.01)", "threshold", "target trials", "non-target trials"):
        assert key in r.stdout
    assert (re.search(r"^target trials\s+36$", r.stdout, re.M)
            and re.search(r"^non-target trials\s+240$", r.stdout, re.M)), r.stdout
    assert "(6 speakers: too few for a firm interval, 10 or more make one)" in r.stdout      # 6 fixture speakers
    assert len((tmp_path / "t.txt").read_text().splitlines()) == 276
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"scores.png", "scores.svg", "tsne.png", "tsne.svg"}
    # the trial list written is accepted back
    r2 = sse("eval", str(tmp_path / "t.txt"), "--root", str(fixture_root), "--model", "untrained", "--bootstrap", "0")
    assert r2.returncode == 0, r2.stderr
    eer_line = lambda out: next(l for l in out.splitlines() if l.startswith("EER"))
    assert eer_line(r2.stdout) == eer_line(r.stdout)
    r3 = sse("eval", str(tmp_path / "t.txt"), "--model", "untrained")   # paths relative to the list's folder
    assert r3.returncode == 1 and "not found" in r3.stderr


def test_eval_with_as_norm(sse, fixture_root):
    r = sse("eval", str(fixture_root), "--model", "untrained", "--norm")
    assert r.returncode == 1 and "no AS-norm cohort" in r.stderr              # untrained models carry none
    r = sse("eval", str(fixture_root), "--model", "untrained", "--cohort", str(fixture_root), "--top-k", "3",
            "--bootstrap", "0")
    assert r.returncode == 0, r.stderr
    assert "as-norm" in r.stdout and "EER (%)" in r.stdout


def test_eval_missing_path_fails_cleanly(sse):
    r = sse("eval", "/no/such/folder")
    assert r.returncode == 1 and "not found" in r.stderr and "Traceback" not in r.stderr


def test_embed_files_folders_lists_and_bad_files(sse, fixture_root, fixture_files, tmp_path):
    import numpy as np
    import pandas as pd
    bad = tmp_path / "bad.wav"; bad.write_bytes(b"")
    lst = tmp_path / "list.txt"; lst.write_text(f"{fixture_files[0]}\n{fixture_files[1]}\n")
    r = sse("embed", str(fixture_root / "cv_en" / fixture_files[5].parent.name), str(lst), str(bad),
            "--model", "untrained", "--out", str(tmp_path / "e"))
    assert r.returncode == 0, r.stderr
    assert "skipped" in r.stderr and "bad.wav" in r.stderr
    E = np.load(tmp_path / "e.npy"); idx = pd.read_csv(tmp_path / "e.csv")
    assert E.shape == (6, 256) and len(idx) == 6 and np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
    assert idx.path.iloc[-1].endswith(fixture_files[1].name)


def test_embed_speaker_mode(sse, fixture_root, tmp_path):
    import numpy as np
    import pandas as pd
    r = sse("embed", str(fixture_root), "--speaker", "--model", "untrained", "--out", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    idx = pd.read_csv(tmp_path / "s.csv")
    assert np.load(tmp_path / "s.npy").shape == (6, 256) and list(idx.n_files) == [4] * 6


def test_embed_nothing_readable_fails(sse, tmp_path):
    bad = tmp_path / "bad.wav"; bad.write_bytes(b"xx")
    r = sse("embed", str(bad), "--model", "untrained", "--out", str(tmp_path / "e"))
    assert r.returncode == 1 and "none of the files" in r.stderr


def test_verify(sse, fixture_files):
    r = sse("verify", str(fixture_files[0]), str(fixture_files[1]), "--model", "untrained", "--threshold", "0.5")
    assert r.returncode == 0, r.stderr
    score = float(r.stdout.split()[1])
    assert ("same speaker" in r.stdout) == (score >= 0.5) and ("different speakers" in r.stdout) == (score < 0.5)
    r = sse("verify", str(fixture_files[0]), str(fixture_files[1]), "--model", "untrained", "--threshold", "1.0")
    assert r.returncode == 0 and "different speakers" in r.stdout       # "different" is an answer, not an error
    r = sse("verify", str(fixture_files[0]), "/no/such.wav", "--model", "untrained")
    assert r.returncode == 1


def test_preprocess_train_export_onnx_end_to_end(sse, fixture_root, tmp_path):
    r = sse("preprocess", str(fixture_root), str(tmp_path / "mels"), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mels" / "manifest.csv").exists() and "24 mels of 6 speakers" in r.stdout
    r = sse("train", str(tmp_path / "mels"), str(tmp_path / "run"), "--dev", str(fixture_root), "--epochs", "1",
            "--hidden", "16", "--layers", "1", "--n-speakers", "3", "--n-utterances", "3", "--crop", "30", "40",
            "--rounds", "2", "--valid-pct", "0.34", "--cohort", str(fixture_root))
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "run" / "model.pt").exists() and "EER" in r.stdout and "AS-norm: EER" in r.stdout
    from simple_speaker_embedding.hub import load_checkpoint
    m = load_checkpoint(tmp_path / "run" / "model.pt")
    assert m.model_hparams.hidden == 16 and m.meta["recipe"]["epochs"] == 1
    from simple_speaker_embedding.evaluate import evaluate
    from simple_speaker_embedding.metrics import threshold_at_fa
    m.cohort = None                       # the stored threshold: 1% false accepts on the dev
                                          # trials (cosine), as `calibrate_threshold` sets it
    res = evaluate(m, fixture_root, progress=False, n_boot=0)
    assert m.threshold == pytest.approx(threshold_at_fa(res.trials.score, res.trials.label, 0.01), abs=2e-3)
    assert m.meta["threshold_note"].startswith("cosine at 1% false accepts")
    m = load_checkpoint(tmp_path / "run" / "model.pt")
    assert m.cohort.shape == (6, 256) and "dev_eer_asnorm" in m.meta      # the cohort travels in the export
    r = sse("eval", str(fixture_root), "--model", str(tmp_path / "run" / "model.pt"), "--norm", "--bootstrap", "0")
    assert r.returncode == 0 and "as-norm" in r.stdout, r.stderr
    a, b = sorted(fixture_root.rglob("*.ogg"))[0], sorted(fixture_root.rglob("*.ogg"))[5]
    r = sse("verify", str(a), str(b), "--model", str(tmp_path / "run" / "model.pt"))
    assert r.returncode == 0 and "(cosine)" in r.stdout and f"threshold {m.threshold:.4f}" in r.stdout   # the run's own threshold
    score = float(r.stdout.split()[1])
    assert ("same speaker" in r.stdout) == (score >= m.threshold)
    r = sse("train", str(tmp_path / "mels"), str(tmp_path / "run2"), "--init", str(tmp_path / "run" / "model.pt"),
            "--epochs", "1", "--hidden", "99", "--n-speakers", "3", "--n-utterances", "3", "--crop", "30", "40",
            "--valid-pct", "0.34")                                            # warm start: architecture from --init
    assert r.returncode == 0, r.stderr[-2000:]
    m2 = load_checkpoint(tmp_path / "run2" / "model.pt")
    assert (m2.model_hparams.hidden == 16 and m2.meta["recipe"]["init"].endswith("model.pt")
            and m2.meta["init_meta"]["recipe"]["epochs"] == 1)
    assert m2.meta["recipe"]["hidden"] == 16                                 # the recipe records the architecture trained
    r = sse("export-onnx", str(tmp_path / "m.onnx"), "--model", str(tmp_path / "run" / "model.pt"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.onnx").stat().st_size > 1000


def test_train_max_steps_stops_exports_and_resumes_as_done(sse, fixture_root, tmp_path):
    "`sse train --max-steps N` as users run it (progress bars on): N steps, the usual export; a rerun has nothing to do."
    assert sse("preprocess", str(fixture_root), str(tmp_path / "mels"), "--workers", "1").returncode == 0
    args = ["train", str(tmp_path / "mels"), str(tmp_path / "run"), "--max-steps", "3", "--hidden", "16", "--layers", "1",
            "--n-speakers", "3", "--n-utterances", "3", "--crop", "30", "40", "--rounds", "4", "--valid-pct", "0.34"]
    r = sse(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    from simple_speaker_embedding.hub import load_checkpoint
    m = load_checkpoint(tmp_path / "run" / "model.pt")
    assert m.meta["steps"] == 3 and m.meta["recipe"]["max_steps"] == 3
    before = (tmp_path / "run" / "model.pt").read_bytes()
    r = sse(*args)                                                   # finished and exported: nothing to do, the file kept
    assert r.returncode == 0 and "kept as it is" in r.stdout, r.stderr[-2000:]
    assert (tmp_path / "run" / "model.pt").read_bytes() == before


def test_every_subcommand_has_help_with_examples(sse):
    for cmd in ("demo", "hparams", "embed", "verify", "calibrate", "eval", "preprocess", "train", "export-onnx"):
        r = sse(cmd, "--help")
        assert r.returncode == 0 and "examples:" in r.stdout and f"sse {cmd}" in r.stdout.replace("$(which sse) ", "sse "), cmd


def test_demo_embeds_the_bundled_clips_with_the_shipped_model(capsys):
    from simple_speaker_embedding.commands import demo
    sims = demo()
    assert sims.shape == (6, 6) and "UNTRAINED" not in capsys.readouterr().out
    assert all(sims[i, i + 1] > max(sims[i, j] for j in range(6) if j // 2 != i // 2) for i in (0, 2, 4))   # pairs are closest


def test_eval_plot_names_the_scores_it_draws(fixture_root, tmp_path, monkeypatch):
    "sse eval --plot with the shipped model draws AS-norm scores, titled and labelled so, with the model's threshold."
    import matplotlib
    matplotlib.use("Agg")
    import simple_speaker_embedding.plots as pl
    from simple_speaker_embedding.cli import main
    from simple_speaker_embedding.hub import gru_embedder
    figs, real = [], pl.plot_scores
    monkeypatch.setattr(pl, "plot_scores", lambda *a, **kw: figs.append(real(*a, **kw)) or figs[-1])
    assert main(["eval", str(fixture_root), "--bootstrap", "0", "--plot", str(tmp_path)]) == 0
    ax = figs[0].axes[0]
    assert ax.get_title() == "AS-norm scores of verification trials" and ax.get_xlabel().startswith("AS-norm score")
    assert f"threshold {gru_embedder().threshold:.3f} (as given" in ax.get_legend().get_texts()[2].get_text()
    figs.clear()
    assert main(["eval", str(fixture_root), "--bootstrap", "0", "--plot", str(tmp_path), "--cosine"]) == 0
    assert (figs[0].axes[0].get_title() == "Cosine scores of verification trials"
            and figs[0].axes[0].get_xlabel() == "cosine similarity")


def test_help_needs_no_torch_and_says_no_default_none():
    r = subprocess.run([sys.executable, "-c", "import sys; from simple_speaker_embedding.cli import _parser; p = _parser(); "
                        "print('torch' in sys.modules); p.parse_args(['train', '--help'])"], capture_output=True, text=True)
    assert (r.stdout.startswith("False") and "(default: None)" not in r.stdout
            and "--max-steps" in r.stdout), r.stdout[:300] + r.stderr


def test_cli_options_reach_their_functions(fixture_root, monkeypatch, tmp_path):
    """`sse diarize --speakers/--distance (or its old name
    --threshold)/--window/--hop` and `sse eval --top-k` arrive where they act."""
    import simple_speaker_embedding.diarize as dz
    import simple_speaker_embedding.evaluate as ev
    from simple_speaker_embedding.cli import main
    seen = {}
    monkeypatch.setattr(dz, "diarize", lambda m, audio, **kw: seen.update(diarize=kw) or [(0.0, 1.0, "spk0")])
    for flag in ("--distance", "--threshold"):
        assert main(["diarize", "x.wav", "--speakers", "3", flag, "0.4", "--window", "2.0", "--hop", "0.5"]) == 0
        assert {k: seen["diarize"][k] for k in ("num_speakers", "distance", "window", "hop")} == \
            dict(num_speakers=3, distance=0.4, window=2.0, hop=0.5)
    real = ev.evaluate
    monkeypatch.setattr(ev, "evaluate", lambda *a, **kw: seen.update(evaluate=kw) or real(*a, **kw))
    assert main(["eval", str(fixture_root), "--model", "untrained", "--cohort", str(fixture_root), "--top-k", "3",
                 "--bootstrap", "0"]) == 0
    assert seen["evaluate"]["top_k"] == 3
    assert main(["eval", str(fixture_root), "--bootstrap", "0"]) == 0              # the shipped model: its own rule's top-k
    from simple_speaker_embedding.hub import gru_embedder
    assert seen["evaluate"]["top_k"] == gru_embedder().meta["asnorm_top_k"] == 100
    import simple_speaker_embedding.distill as ds
    monkeypatch.setattr(ds, "teacher_targets", lambda mels, t, **kw: seen.update(targets=kw) or __import__("pandas").DataFrame())
    monkeypatch.setattr(ds.CampPlusTeacher, "__init__", lambda self, wheel: None)
    assert main(["teacher-targets", str(tmp_path), "--wheel", "w.whl", "--device", "cpu", "--batch-size", "16",
                 "--workers", "3"]) == 0
    assert seen["targets"] == dict(n_workers=3, device="cpu", batch_size=16)


def test_cli_device_reaches_the_model(fixture_files, tmp_path, capsys):
    "`--device` is used, not replaced by the CPU: a device that is not here is refused."
    from simple_speaker_embedding.cli import main
    assert main(["embed", str(fixture_files[0]), "--out", str(tmp_path / "e"), "--device", "cuda:7"]) == 1
    err = capsys.readouterr().err
    assert "cuda:7" in err and ("not available" in err or "CUDA device(s) exist" in err)


def test_every_help_points_to_real_docs_and_names_the_models_own_score(sse):
    "No `--help` sends the reader to the README for figures that live in docs/, or calls the shipped model's score a cosine."
    from simple_speaker_embedding import gru_embedder
    from simple_speaker_embedding.cli import _parser
    assert gru_embedder().scoring == 'as-norm'          # what the shipped model's score is (the texts must not say cosine)
    for cmd in [None, *_parser().commands]:
        r = sse(*([cmd] if cmd else []), "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        text = " ".join(r.stdout.split())              # argparse wraps lines
        for bad in ("see README", "see the README", "cosine score of", "the cosine score"):
            assert bad not in text, (cmd, bad)
    assert "AS-norm" in " ".join(sse("verify", "--help").stdout.split())
