import os
import shutil
import subprocess
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):     # `pytest -n 2` (the default, pyproject): one thread a worker, and in what it runs
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"   # (two workers of two spinning threads: 4-70x slower)
import numpy as np
import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"): torch.set_num_threads(1)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixture_root() -> Path:
    "The CC0 fixture tree: <dataset>/<speaker>/<utterance>.ogg (see tests/fixtures/README.md)."
    return FIXTURES


@pytest.fixture(scope="session")
def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*/*/*.ogg"))


@pytest.fixture(scope="session")
def small_model():
    "A small, seeded, untrained embedder: fast enough for many tests."
    from simple_speaker_embedding.model import GRUEmbedder
    torch.manual_seed(0)
    return GRUEmbedder(hidden=64, layers=2).eval()


@pytest.fixture
def tone():
    "Make a sine tone: tone(seconds, sr, freq=220, amp=0.5) -> float32 array."
    def make(seconds, sr, freq=220.0, amp=0.5):
        t = np.arange(int(seconds * sr)) / sr
        return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return make


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory) -> Path:
    "The fixtures preprocessed once into a mel store (one speed), shared by the training tests: read it, do not change it."
    import warnings

    from simple_speaker_embedding.store import preprocess
    dst = tmp_path_factory.mktemp("fixture_store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preprocess(FIXTURES, dst, n_workers=1, progress=False)
    return dst


# the console script installed beside this interpreter (pip install -e .), else the one on PATH
SSE = str(Path(sys.executable).with_name("sse")) if Path(sys.executable).with_name("sse").exists() else shutil.which("sse")


def run_sse(*args, input: bytes | None = None, cwd=None, timeout: int = 300) -> subprocess.CompletedProcess:
    "Run the installed `sse` console script as a user would; stdout/stderr decoded, `input` fed to stdin as bytes."
    assert SSE, "the `sse` console script is not installed: pip install -e ."
    r = subprocess.run([SSE, *map(str, args)], input=input, capture_output=True, cwd=cwd, timeout=timeout)
    r.stdout, r.stderr = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    return r


@pytest.fixture(scope="session")
def sse():
    "`sse(*args, input=None, cwd=None)`: the `sse` command as a subprocess (see `run_sse`)."
    return run_sse
