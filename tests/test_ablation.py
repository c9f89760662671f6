"""scripts/ablation.py, the runner of staged ablations: what it would run for a study file (checked line by line against
commands written out by hand), its refusals, and a real two-arm study on the fixtures that resumes to nothing."""
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "scripts" / "ablation.py"


def study(tmp_path, text) -> Path:
    p = tmp_path / "study.toml"; p.write_text(text); return p


def runner(*args, cwd=None):
    return subprocess.run([sys.executable, str(RUNNER), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def commands(out:str) -> list:
    "The printed commands, each with its program as a bare name (sse, python) and without the log redirection."
    rows = []
    for line in out.splitlines():
        if line.startswith('#'): continue
        words = shlex.split(line.split(' > ')[0])
        prog = Path(words[0]).name
        rows.append(['python' if prog.startswith('python') else prog] + words[1:])
    return rows


def recipe(tmp_path, name, **kv) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text("\n".join(f"{k} = {v}" for k, v in kv.items()) + "\n"); return p


def test_dry_run_lists_every_step_in_order(tmp_path):
    a, b, c = recipe(tmp_path, "a", epochs=1), recipe(tmp_path, "b", epochs=1), recipe(tmp_path, "c", epochs=1)
    w = tmp_path / "work"
    s = study(tmp_path, f"""
work = "{w}"
seeds = [7, 8]
[store]
path = "{tmp_path}/mels"
source = "/data/corpus"
preprocess = ["--speeds", "1.0"]
[arms]
a = "{a}"
b = {{recipe = "{b}", init_from = "a", seeds = [8]}}
c = {{recipe = "{c}", validate = false}}
[validate]
references = ["ref.pt"]
degraded = true
[dev]
sets = ["x"]
""")
    r = runner(s, "--dry-run", "--data", "/d")
    assert r.returncode == 0, r.stderr
    m = lambda arm, seed: f"{w}/{arm}_s{seed}/model.pt"
    train = lambda arm, seed, rec, *init: ["sse", "train", f"{tmp_path}/mels", f"{w}/{arm}_s{seed}", "--config", str(rec),
                                           "--seed", str(seed), *init, "--device", "cpu", "--workers", "0"]
    valid = ["python", str(ROOT / "scripts" / "valid_report.py"), f"{tmp_path}/mels", "ref.pt", m("a", 7), m("a", 8),
             f"{w}/a_avg.pt", m("b", 8), "--valid-pct", "0.1", "--valid-seed", "0", "--asnorm"]
    evals = [["sse", "eval", "/d/dev/x", "--model", mod, "--cosine", "--bootstrap", "0"]
             for mod in ("ref.pt", m("a", 7), m("a", 8), f"{w}/a_avg.pt", m("b", 8))]
    assert commands(r.stdout) == [
        ["sse", "preprocess", "/data/corpus", f"{tmp_path}/mels", "--speeds", "1.0"],
        train("a", 7, a), train("a", 8, a), train("c", 7, c), train("c", 8, c),    # b waits for a's seed-8 run
        train("b", 8, b, "--init", m("a", 8)),
        ["sse", "average", m("a", 7), m("a", 8), "--out", f"{w}/a_avg.pt"],      # b has one seed, c is not validated
        valid + ["--out", f"{w}/valid.json"],
        valid[:-1] + ["--asnorm", "--degraded", "--out", f"{w}/valid_degraded.json"],
        *evals]


def test_a_validation_made_before_a_run_existed_is_made_again(tmp_path):
    "A stored validation is kept only when it already reports every model of the study (else it would hide new runs)."
    import json
    a, w = recipe(tmp_path, "a", epochs=1), tmp_path / "work"
    s = study(tmp_path, f'work = "{w}"\nseeds = [7, 8]\n[store]\npath = "{tmp_path}/mels"\n[arms]\na = "{a}"\n'
                        '[validate]\nreferences = ["ref.pt"]\n')
    (w / "a_avg.pt").parent.mkdir(parents=True); (w / "a_avg.pt").touch()      # the average exists: not remade
    every = ["ref.pt", f"{w}/a_s7/model.pt", f"{w}/a_s8/model.pt", f"{w}/a_avg.pt"]
    def validates(stored):
        (w / "valid.json").write_text(json.dumps({"models": {m: {} for m in stored}}))
        return [c for c in commands(runner(s, "--dry-run").stdout) if Path(c[1]).name == "valid_report.py"]
    assert validates(every[:2]) and validates(every[:2])[0][3:7] == every    # seed 8 and the average are new: all again
    assert validates(every) == []


@pytest.mark.parametrize("text, says", [
    ('work = "w"\n[store]\npath = "m"\n[arms]\na = "RECIPE"\n[validte]\n', "unknown keys ['validte']"),
    ('work = "w"\n[store]\npath = "m"\n[arms]\na = "nowhere.toml"\n', "recipe not found: nowhere.toml"),
    ('work = "w"\n[store]\npath = "m"\n[arms]\nb = {recipe = "RECIPE", init_from = "a"}\na = "RECIPE"\n',
     "an arm listed before it"),
    ('work = "w"\n[arms]\na = "RECIPE"\n', "`store` is missing"),
])
def test_a_bad_study_is_refused_in_one_line(tmp_path, text, says):
    r = runner(study(tmp_path, text.replace("RECIPE", str(recipe(tmp_path, "r", epochs=1)))), "--dry-run")
    assert r.returncode == 1 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_study_runs_on_the_fixtures_and_a_rerun_does_nothing(tmp_path, fixture_root):
    settings = dict(hidden=16, layers=1, emb_dim=16, n_speakers=3, n_utterances=2, crop="[30, 40]", valid_pct=0.34,
                    max_steps=2, epochs=1)
    a = recipe(tmp_path, "a", **settings, lr=0.01)
    b = recipe(tmp_path, "b", **settings, lr=0.001)
    data = tmp_path / "data"; (data / "dev").mkdir(parents=True)
    (data / "dev" / "fix").symlink_to(fixture_root / "cv_en")
    w = tmp_path / "work"
    s = study(tmp_path, f"""
work = "{w}"
seeds = [7]
[store]
path = "{w}/mels"
source = "{fixture_root}"
[arms]
a = "{a}"
b = {{recipe = "{b}", init_from = "a"}}
[dev]
sets = ["fix"]
""")
    r = runner(s, "--data", data)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (w / "mels" / "manifest.csv").exists() and (w / "a_s7" / "model.pt").exists() and (w / "b_s7" / "model.pt").exists()
    import torch
    meta = torch.load(w / "b_s7" / "model.pt", weights_only=False)["meta"]
    assert meta["recipe"]["init"] == str(w / "a_s7" / "model.pt") and meta["recipe"]["lr"] == 0.001   # b started from a
    lines = (w / "eval_a_s7.txt").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("a_s7 fix EER (%)"), lines
    assert "a_s7: trained in" in r.stdout and "b_s7: trained in" in r.stdout
    stamp = (w / "b_s7" / "model.pt").stat().st_mtime_ns
    again = runner(s, "--data", data)
    assert again.returncode == 0 and "running:" not in again.stdout, again.stdout
    assert (w / "b_s7" / "model.pt").stat().st_mtime_ns == stamp
