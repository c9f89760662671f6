"The shipped weights: load offline through torch.hub, verified by sha256, and separate the CC0 fixture speakers."
from pathlib import Path

import numpy as np
import pytest
import torch

from simple_speaker_embedding.evaluate import evaluate
from simple_speaker_embedding.hub import PRETRAINED, WEIGHTS_DIR, gru_embedder, load_checkpoint, sha256_file

REPO = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def shipped():
    return torch.hub.load(str(REPO), "gru_embedder", source="local")     # pretrained=True is the default


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_weights_ship_inside_the_package_with_a_matching_sha256(name):
    fname, digest = PRETRAINED[name]
    path = WEIGHTS_DIR / fname
    assert path.exists() and path.stat().st_size < 10 * 2**20      # small enough for git
    assert sha256_file(path) == digest


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_a_tampered_file_is_refused(tmp_path, name):
    fname, digest = PRETRAINED[name]
    bad = tmp_path / fname
    data = bytearray((WEIGHTS_DIR / fname).read_bytes()); data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="sha256"):
        load_checkpoint(bad, sha256=digest)


def test_hub_load_gives_the_trained_model_with_metadata(shipped):
    assert not shipped.training and shipped.gru.hidden_size == 256
    assert shipped.scoring == "as-norm" and shipped.cohort is not None        # decisions: AS-norm scores
    at = shipped.meta["at_threshold"]                                         # the operating point, per dev set
    assert set(at) == {"cv_en", "speechocean762", "librispeech_halves"}          # clean read speech among them
    assert all(v["false_accept"] <= 0.03 and v["false_reject"] <= 0.15 for v in at.values())   # within 3% FA and 15%
                                                                                               # FR on each set
    assert all(v["false_accept_ci"][0] <= v["false_accept"] <= v["false_accept_ci"][1] for v in at.values())
    assert len(shipped.cohort) == 2999 and shipped.meta["asnorm_top_k"] == 100   # every training domain in the cohort, an4 too
    assert "centre of the window" in shipped.meta["threshold_note"]
    assert shipped.meta["dev_eer"]["cv_en"] < 0.08 and "recipe" in shipped.meta
    fname, _ = PRETRAINED["gru_embedder"]                     # torch.hub gives exactly the weights in the shipped file
    stored = torch.load(WEIGHTS_DIR / fname, weights_only=True)["state_dict"]
    for k, v in shipped.state_dict().items(): torch.testing.assert_close(v, stored[k].float())


def test_the_robust_weights_load_through_torch_hub_and_decide_on_the_fixtures(fixture_root):
    "The weights trained on degraded copies too are a whole shipped model: cohort, threshold, its own rule."
    robust = torch.hub.load(str(REPO), "gru_embedder", source="local", name="gru_embedder_robust")
    assert robust.meta["name"] == "gru_embedder_robust" and robust.scoring == "as-norm" and len(robust.cohort) == 2999
    assert not torch.equal(robust.gru.weight_hh_l0, gru_embedder().gru.weight_hh_l0)     # not the default weights again
    res = evaluate(robust, fixture_root, progress=False, n_boot=0, cohort=robust.cohort, top_k=robust.meta['asnorm_top_k'])
    t = res.trials
    assert res.eer < 0.15 and (t[t.label == 0].score >= robust.threshold).mean() <= 0.05


def test_same_speaker_pairs_score_higher_on_the_fixtures(shipped, fixture_root):
    res = evaluate(shipped, fixture_root, progress=False, n_boot=0)        # raw cosines
    t = res.trials
    target, nontarget = t[t.label == 1].score, t[t.label == 0].score
    assert target.mean() > nontarget.mean() + 0.3
    assert res.eer < 0.15                                   # untrained models sit near 0.4-0.5 here


def test_the_threshold_decides_on_the_scores_model_score_gives(shipped, fixture_root):
    "sse eval, sse verify and the Python API score the same way: evaluate(cohort=model.cohort) == model.score."
    res = evaluate(shipped, fixture_root, progress=False, n_boot=0, cohort=shipped.cohort, top_k=shipped.meta['asnorm_top_k'])
    t, e = res.trials, res.embeddings
    mine = shipped.score(np.stack([e[p] for p in t.path1]), np.stack([e[p] for p in t.path2]))
    np.testing.assert_allclose(mine, t.score.to_numpy(), atol=1e-4)
    nontarget, target = t[t.label == 0].score, t[t.label == 1].score
    assert (nontarget >= shipped.threshold).mean() <= 0.05 and (target >= shipped.threshold).mean() > 0.3


def test_shipped_cohort_gives_as_norm_scores_that_separate_the_fixtures(shipped, fixture_root):
    from simple_speaker_embedding.asnorm import as_norm, cohort_stats
    c = shipped.cohort
    assert c.shape == (2999, 256) and torch.allclose(c.norm(dim=1), torch.ones(2999), atol=1e-2)
    res = evaluate(shipped, fixture_root, progress=False, n_boot=0, cohort=c)
    t = res.trials
    assert res.norm == "as-norm" and res.eer < 0.15
    assert t[t.label == 1].score.mean() > t[t.label == 0].score.mean() + 2      # z-score units
    # the README's one-pair recipe gives the same number as evaluate()
    e = res.embeddings
    a, b = t.path1.iloc[0], t.path2.iloc[0]
    stats = lambda v: cohort_stats(v[None], c)
    assert abs(float(as_norm(float(e[a] @ e[b]), stats(e[a]), stats(e[b]))[0]) - t.score.iloc[0]) < 1e-4
    assert shipped.meta["dev_eer_asnorm"]["cv_en"] < 0.08


def test_unknown_name_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no shipped weights named"):
        gru_embedder(name="gru_embedder_xl")
