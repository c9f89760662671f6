"Every notebook in nbs/ and training.ipynb (quick mode) runs top to bottom; their inline tests are part of the suite."
import subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
NBS = sorted((ROOT / "nbs").glob("*.ipynb")) + [ROOT / "training.ipynb"]   # training.ipynb runs in quick mode


@pytest.mark.parametrize("nb", NBS, ids=[p.stem for p in NBS])
def test_notebook_runs(nb):
    r = subprocess.run(["nbdev-test", str(nb)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]


def test_there_are_notebooks():
    assert len(NBS) >= 9
