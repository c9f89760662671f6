"The `sse` command, called as a user would: as a subprocess."
import shutil
import subprocess
import sys
from pathlib import Path

# the console script installed beside this interpreter (pip install -e .), else the one on PATH
SSE = str(Path(sys.executable).with_name("sse")) if Path(sys.executable).with_name("sse").exists() else shutil.which("sse")


def sse(*args):
    assert SSE, "the `sse` console script is not installed: pip install -e ."
    return subprocess.run([SSE, *args], capture_output=True, text=True, timeout=300)


def test_demo_prints_a_similarity_matrix_and_says_untrained():
    r = sse("demo")
    assert r.returncode == 0, r.stderr
    assert "UNTRAINED" in r.stdout
    rows = [l for l in r.stdout.splitlines() if l.startswith("speaker")]
    assert len(rows) == 6 and all(len(l.split()) == 8 for l in rows)
    assert all(l.split()[i + 1] == "1.000" for i, l in enumerate(rows))  # diagonal


def test_demo_on_user_files(fixture_files):
    r = sse("demo", str(fixture_files[0]), str(fixture_files[5]))
    assert r.returncode == 0, r.stderr
    assert fixture_files[5].name in r.stdout


def test_demo_bad_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    r = sse("demo", str(bad))
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "empty" in r.stderr and "Traceback" not in r.stderr


def test_hparams():
    r = sse("hparams")
    assert r.returncode == 0 and "min_log_value  :  -11.52" in r.stdout and "hidden  :  768" in r.stdout


def test_usage_errors_exit_2():
    assert sse("no-such-command").returncode == 2
    assert sse().returncode == 2


def test_help_has_examples():
    r = sse("--help")
    assert r.returncode == 0 and "examples:" in r.stdout
    r = sse("demo", "--help")
    assert r.returncode == 0 and "sse demo" in r.stdout


def test_eval_prints_table_and_writes_trials_and_plots(fixture_root, tmp_path):
    r = sse("eval", str(fixture_root), "--model", "untrained", "--trials-out", str(tmp_path / "t.txt"),
            "--plot", str(tmp_path / "plots"), "--bootstrap", "20")
    assert r.returncode == 0, r.stderr
    for key in ("EER (%)", "95% CI (%)", "minDCF (p=0.01)", "threshold", "target trials", "non-target trials"):
        assert key in r.stdout
    assert "36" in r.stdout and "240" in r.stdout
    assert len((tmp_path / "t.txt").read_text().splitlines()) == 276
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"scores.png", "scores.svg", "tsne.png", "tsne.svg"}
    # the trial list written is accepted back
    r2 = sse("eval", str(tmp_path / "t.txt"), "--root", str(fixture_root), "--model", "untrained", "--bootstrap", "0")
    assert r2.returncode == 0, r2.stderr
    eer_line = lambda out: next(l for l in out.splitlines() if l.startswith("EER"))
    assert eer_line(r2.stdout) == eer_line(r.stdout)
    r3 = sse("eval", str(tmp_path / "t.txt"), "--model", "untrained")   # paths relative to the list's folder
    assert r3.returncode == 1 and "not found" in r3.stderr


def test_eval_missing_path_fails_cleanly():
    r = sse("eval", "/no/such/folder")
    assert r.returncode == 1 and "not found" in r.stderr and "Traceback" not in r.stderr
