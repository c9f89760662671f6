"Every notebook in nbs/ and training.ipynb (quick mode) runs top to bottom; their inline tests are part of the suite."
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NBS = sorted((ROOT / "nbs").glob("*.ipynb"))   # training.ipynb runs below, through papermill


@pytest.mark.parametrize("nb", NBS, ids=[p.stem for p in NBS])
def test_notebook_runs(nb):
    r = subprocess.run(["nbdev-test", str(nb)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]


def test_there_are_notebooks():
    assert len(NBS) >= 9


def test_training_notebook_takes_papermill_parameters(tmp_path):
    "training.ipynb runs in quick mode with its tagged parameters set from outside (`papermill training.ipynb -p ...`)."
    import json

    import papermill as pm
    out, work = tmp_path / "training.out.ipynb", tmp_path / "quick"
    pm.execute_notebook(str(ROOT / "training.ipynb"), str(out), parameters=dict(device="cpu", work=str(work), seed=1, hidden=24),
                        cwd=str(tmp_path), kernel_name="python3", progress_bar=False)     # from another folder
    cells = json.loads(out.read_text())["cells"]
    injected = next(c for c in cells if "injected-parameters" in c["metadata"].get("tags", []))
    assert "device = \"cpu\"" in "".join(injected["source"]) or "device = 'cpu'" in "".join(injected["source"])
    text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                   for c in cells for o in c.get("outputs", []))
    assert "on cpu" in text and f"exported {work / 'model.pt'}" in text      # the parameters reached the run
    assert (work / "model.pt").exists()
    from simple_speaker_embedding.hub import load_checkpoint
    assert load_checkpoint(work / "model.pt").model_hparams.hidden == 24          # a given parameter beats the mode's default
    for nb in (ROOT / "training.ipynb", ROOT / "nbs" / "evaluation.ipynb"):   # each notebook's parameters cell is tagged
        assert any("parameters" in c["metadata"].get("tags", []) for c in json.loads(nb.read_text())["cells"]), nb


def _derived(**given) -> dict:
    """training.ipynb's parameters as papermill leaves them: the parameters
    cell, the injected values, then the cell that fills in the mode's defaults."""
    import json
    cells = json.loads((ROOT / "training.ipynb").read_text())["cells"]
    i = next(k for k, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    ns = {}
    exec("".join(cells[i]["source"]), ns)
    ns.update(given)
    exec("".join(cells[i + 1]["source"]), ns)
    return ns


def test_training_notebook_full_mode_takes_its_defaults_unless_given():
    "`-p quick False` alone gives the full run (not the tiny model and the stand-in teacher); a value given wins."
    full = _derived(quick=False)
    assert (full["hidden"], full["layers"], full["teacher"], full["n_speakers"], full["speeds"]) == (256, 3, "campplus",
                                                                                                     32, (0.9, 1.0, 1.1))
    assert str(full["train_root"]).endswith("shared/data/train") and full["work"] == "runs/full"
    assert (_derived(quick=False, hidden=768, teacher="none")["hidden"] == 768
            and _derived(quick=False, teacher="none")["teacher"] is None)
    quick = _derived()
    assert (quick["hidden"], quick["teacher"], quick["work"]) == (32, "spectral", "runs/quick") and quick["train_root"].is_dir()


def test_evaluation_notebook_runs_with_papermill_from_the_repository_root(tmp_path):
    import papermill as pm
    out = tmp_path / "evaluation.out.ipynb"
    pm.execute_notebook(str(ROOT / "nbs" / "evaluation.ipynb"), str(out), parameters=dict(n_boot=20, out_dir=str(tmp_path)),
                        cwd=str(ROOT), kernel_name="python3", progress_bar=False)
    assert {p.name for p in tmp_path.glob("*.svg")} >= {"scores.svg", "tsne.svg", "diarization_given.svg",
                                                        "diarization_estimated.svg"}


def test_notebook_numbers_follow_their_imports():
    "Each module's notebook is numbered after every notebook whose module it imports (a reader can go in order)."
    import json
    import re
    num, deps = {}, {}
    for nb in NBS:
        m = re.match(r"(\d+)_", nb.name)
        if not m: continue
        cells = json.loads(nb.read_text())["cells"]
        src = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        mod = next(re.search(r"#\| default_exp (\w+)", s).group(1) for s in src if "#| default_exp" in s)
        num[mod] = int(m.group(1))
        exported = "\n".join(s for s in src if s.startswith("#| export"))
        deps[mod] = set(re.findall(r"^from simple_speaker_embedding\.(\w+) import", exported, re.M))
    assert len(set(num.values())) == len(num), "two notebooks share a number"
    late = [(m, d) for m, ds in deps.items() for d in ds if d in num and num[d] >= num[m]]
    assert not late, f"notebooks numbered before what they import: {late}"


def test_every_name_of_the_api_card_has_an_example_with_output_in_its_notebook():
    """The names `simple_speaker_embedding` exports (its API card) each appear in a code cell of their module's notebook
    that is not an export and whose output is stored (the docs site shows it; `scripts/execute_notebooks.py` makes it)."""
    import json
    import re

    from simple_speaker_embedding import _API
    examples = {}
    for nb in NBS:
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        src = ["".join(c["source"]) for c in cells]
        m = next((re.search(r"#\| default_exp (\w+)", s) for s in src if "#| default_exp" in s), None)
        if m: examples[m.group(1)] = [(s, c.get("outputs")) for s, c in zip(src, cells)
                                      if not s.startswith(("#| export", "#| default_exp", "#| hide"))]
    missing = [f"{name} ({mod})" for name, mod in _API.items()
               if not any(re.search(rf"\b{name}\b", s) for s, _ in examples.get(mod, []))]
    assert not missing, f"no example cell for: {', '.join(missing)}"
    silent = [f"{name} ({mod})" for name, mod in _API.items()
              if not any(re.search(rf"\b{name}\b", s) and out for s, out in examples.get(mod, []))]
    assert not silent, f"no example with a stored output for: {', '.join(silent)} (python scripts/execute_notebooks.py)"


def test_no_package_module_is_over_400_lines():
    "One job a module: none of the package's modules (nbdev's generated index `_modidx.py` aside) runs past 400 lines."
    long = {p.name: n for p in (ROOT / "simple_speaker_embedding").glob("*.py") if p.name != "_modidx.py"
            and (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
