"""The public API card and behaviour kept across restructurings: the shipped model's outputs on the fixtures."""
from pathlib import Path
import numpy as np
import torch

REF = Path(__file__).parent / "fixtures" / "shipped_reference.npz"


def test_shipped_embeddings_unchanged(fixture_files):
    "The shipped model embeds, windows and scores the fixtures exactly as it did before the code was restructured."
    from simple_speaker_embedding import gru_embedder
    ref, m = np.load(REF), gru_embedder()
    e = m.embed_files(fixture_files).numpy()
    np.testing.assert_array_equal(e, ref['embeddings'])
    long = torch.cat([m.melspec_from_file(f, trim=True) for f in fixture_files[:6]])   # 1826 frames: windowed
    np.testing.assert_array_equal(m.embed_mels([long]).numpy(), ref['long'])
    np.testing.assert_allclose([m.score(e[0], e[1]), m.score(e[0], e[5])], ref['scores'], rtol=0, atol=1e-12)
