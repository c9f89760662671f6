from pathlib import Path
import numpy as np
import pytest
import torch

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
