"""Several corpora in one run: `sse train A B OUT` reads two stores
of different layouts; same-named datasets and speakers stay apart."""
import contextlib
import io
import shutil

import numpy as np
import pytest

from simple_speaker_embedding.store import load_stores, preprocess


@pytest.fixture(scope="module")
def two_stores(fixture_root, tmp_path_factory):
    """The fixture speakers twice: once as <dataset>/<speaker>/<utt>
    (dataset cv_en), once as a <speaker>/<utt> tree named cv_en too."""
    d = tmp_path_factory.mktemp("stores")
    flat = d / "flat"; shutil.copytree(fixture_root / "cv_en", flat)
    with contextlib.redirect_stderr(io.StringIO()):
        preprocess(fixture_root, d / "mels_a", n_workers=1, progress=False)
        preprocess(flat, d / "mels_b", n_workers=1, progress=False, layout="speaker", dataset="cv_en")
        preprocess(flat, d / "mels_c", n_workers=1, progress=False, layout="speaker", dataset="cv_en", speeds=(0.9,))
    return d / "mels_a", d / "mels_b", d / "mels_c"      # (c: other frames than a, so that a target mix-up would show)


def test_two_stores_of_different_layouts_train_together_without_merging_speakers(sse, two_stores, tmp_path):
    a, b, _ = two_stores
    r = sse("train", str(a), str(b), str(tmp_path / "run"), "--max-steps", "1", "--hidden", "8", "--layers", "1",
            "--n-speakers", "4", "--n-utterances", "2", "--crop", "20", "30", "--valid-pct", "0.2", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "cv_en in more than one store: kept apart as cv_en@mels_a, cv_en@mels_b" in r.stderr
    from simple_speaker_embedding.hub import load_checkpoint
    m = load_checkpoint(tmp_path / "run" / "model.pt")
    assert m.meta["steps"] == 1 and m.meta["mels"] == f"{a}, {b}"
    from simple_speaker_embedding.learner import train
    with contextlib.redirect_stderr(io.StringIO()):
        learn = train([a, b], tmp_path / "lib", max_steps=1, hidden=8, layers=1, n_speakers=4, n_utterances=2, crop=(20, 30),
                      valid_pct=0.2, device="cpu", workers=0, progress=False)
    names = list(learn.learn.dls.train.speaker_names) + list(learn.learn.dls.valid.speaker_names)
    assert len(names) == len(set(names)) == 12                                 # 6 speakers in each store, none merged
    assert {n.split("/")[0] for n in names} == {"cv_en@mels_a", "cv_en@mels_b"}


def test_teacher_targets_of_two_stores_stay_with_their_rows(two_stores, tmp_path):
    from simple_speaker_embedding.distill import SpectralTeacher, load_targets, teacher_targets
    a, _, b = two_stores
    for s in (a, b): teacher_targets(s, SpectralTeacher(), n_workers=0, progress=False)
    man = load_stores([a, b], progress=False)
    both = load_targets(man, None, "spectral", center=False)
    order = np.random.default_rng(0).permutation(len(man))
    got = both[order]
    for s in (a, b):                                                           # each row: its own store's target
        own = load_stores(s, progress=False)
        want = load_targets(own, s, "spectral", center=False)[np.arange(len(own))]
        rows = np.flatnonzero(man.store.to_numpy() == str(s))
        for i, k in enumerate(order):
            if k in rows: np.testing.assert_allclose(got[i], want[k - rows[0]], atol=1e-6)
    assert not np.allclose(both[np.arange(24)], both[np.arange(24, 48)], atol=1e-3)   # the two stores' targets differ
    shutil.rmtree(b / "teacher_spectral")
    with pytest.raises(FileNotFoundError,
                       match=f"no teacher targets in {b / 'teacher_spectral'}"): load_targets(man, None, "spectral")
