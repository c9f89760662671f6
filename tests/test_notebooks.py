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
    pm.execute_notebook(str(ROOT / "training.ipynb"), str(out), parameters=dict(device="cpu", work=str(work), seed=1),
                        cwd=str(ROOT), kernel_name="python3", progress_bar=False)
    cells = json.loads(out.read_text())["cells"]
    injected = next(c for c in cells if "injected-parameters" in c["metadata"].get("tags", []))
    assert "device = \"cpu\"" in "".join(injected["source"]) or "device = 'cpu'" in "".join(injected["source"])
    text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                   for c in cells for o in c.get("outputs", []))
    assert "on cpu" in text and f"exported {work / 'model.pt'}" in text      # the parameters reached the run
    assert (work / "model.pt").exists()
    for nb in (ROOT / "training.ipynb", ROOT / "nbs" / "evaluation.ipynb"):   # each notebook's parameters cell is tagged
        assert any("parameters" in c["metadata"].get("tags", []) for c in json.loads(nb.read_text())["cells"]), nb
