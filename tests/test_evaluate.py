"Evaluation: trials, EER, minDCF, bootstrap, evaluate() with our model or any callable, plots."
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

from simple_speaker_embedding.corpus import list_utterances
from simple_speaker_embedding.evaluate import evaluate, resemblyzer_embedder
from simple_speaker_embedding.metrics import (
    bootstrap_eer,
    eer,
    error_rates,
    load_trials,
    make_trials,
    min_dcf,
    save_trials,
    threshold_at_fa,
)
from simple_speaker_embedding.plots import plot_scores, plot_tsne


def test_list_utterances_at_both_levels(fixture_root):
    ds = list_utterances(fixture_root)
    spk = list_utterances(fixture_root / "cv_en")
    assert len(ds) == len(spk) == 24
    assert ds.speaker.nunique() == 6 and ds.speaker.iloc[0].startswith("cv_en/")
    assert not spk.speaker.iloc[0].startswith("cv_en/")


def test_list_utterances_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_utterances(tmp_path / "missing")
    with pytest.raises(ValueError, match="no audio files"):
        list_utterances(tmp_path)
    (tmp_path / "a").mkdir(); (tmp_path / "a" / "x.wav").write_bytes(b"")
    (tmp_path / "loose.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="depths"):
        list_utterances(tmp_path)


def test_make_trials_counts_and_labels(fixture_root):
    t = make_trials(fixture_root)
    assert (t.label == 1).sum() == 6 * 6                 # 6 speakers x C(4, 2)
    assert (t.label == 0).sum() == 24 * 23 // 2 - 36
    assert ((t.spk1 == t.spk2) == (t.label == 1)).all()
    assert (t.path1 != t.path2).all()
    s1 = make_trials(fixture_root, max_nontarget=50, seed=3)
    s2 = make_trials(fixture_root, max_nontarget=50, seed=3)
    assert (s1.label == 0).sum() == 50 and (s1.label == 1).sum() == 36
    pd.testing.assert_frame_equal(s1, s2)


def test_trials_save_load_roundtrip(fixture_root, tmp_path):
    t = make_trials(fixture_root, max_nontarget=20)
    save_trials(t, tmp_path / "trials.txt", root=fixture_root)
    first = (tmp_path / "trials.txt").read_text().splitlines()[0].split()
    assert first[0] in "01" and not Path(first[1]).is_absolute()
    back = load_trials(tmp_path / "trials.txt", root=fixture_root)
    assert back.label.tolist() == t.label.tolist() and back.path2.tolist() == t.path2.tolist()
    (tmp_path / "bad.txt").write_text("2 a b\n")
    with pytest.raises(ValueError, match="label"):
        load_trials(tmp_path / "bad.txt")


@pytest.mark.parametrize("scores,labels,expected", [
    ([0.9, 0.8, 0.3, 0.2], [1, 1, 0, 0], 0.0),
    ([0.9, 0.4, 0.6, 0.1], [1, 1, 0, 0], 0.5),
    ([0.9, 0.7, 0.5, 0.8, 0.2, 0.1], [1, 1, 1, 0, 0, 0], 1 / 3),
    ([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 1.0),
])
def test_eer_hand_computed(scores, labels, expected):
    assert eer(scores, labels)[0] == pytest.approx(expected)


@pytest.mark.parametrize("scores,labels,expected", [
    # accept >= 3: FA 0, FR 1/2; accept >= 2: FA 1, FR 1/2. FR - FA is 0 halfway: EER 1/2 at 2.5
    ([3, 1, 2], [1, 1, 0], (0.5, 2.5)),
    # accept >= 2.5: FA 1/3, FR 1/2; >= 2: FA 2/3, FR 1/2: halfway, EER 1/2 at 2.25
    ([3, 1, 2.5, 2, 0], [1, 1, 0, 0, 0], (0.5, 2.25)),
])
def test_eer_and_its_threshold_between_two_operating_points_by_hand(scores, labels, expected):
    assert eer(scores, labels) == pytest.approx(expected)


def test_threshold_at_fa_rejects_the_top_non_target_even_at_score_zero():
    "No score above the non-target to reject: the threshold still lies above it (a fixed step at a score of 0)."
    scores, labels = [0.0, -1.0], [0, 1]
    th = threshold_at_fa(scores, labels, fa=0.0)
    assert th > 0.0 and error_rates(scores, labels, th)[0] == 0.0


def test_eer_agrees_with_sklearn_roc_and_its_threshold():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(300), np.zeros(3000)].astype(int)
    scores = np.r_[rng.normal(1.5, 1, 300), rng.normal(0, 1, 3000)]
    rate, th = eer(scores, labels)
    fpr, tpr, _ = roc_curve(labels, scores)
    k = np.argmin(np.abs((1 - tpr) - fpr))
    assert abs(rate - (fpr[k] + 1 - tpr[k]) / 2) < 0.01
    far, frr = (scores[labels == 0] >= th).mean(), (scores[labels == 1] < th).mean()
    assert abs(far - rate) < 0.01 and abs(frr - rate) < 0.01
    assert 0.2 < rate < 0.3   # two unit Gaussians 1.5 apart: EER = Phi(-0.75) = 0.227


def test_min_dcf_matches_brute_force():
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(200), np.zeros(2000)].astype(int)
    scores = np.r_[rng.normal(2, 1, 200), rng.normal(0, 1, 2000)]
    best = min(((scores[labels == 1] < t).mean() * 0.01 + (scores[labels == 0] >= t).mean() * 0.99) / 0.01
               for t in np.r_[np.unique(scores), np.inf])
    assert min_dcf(scores, labels)[0] == pytest.approx(best)
    assert min_dcf([0.9, 0.8, 0.3, 0.2], [1, 1, 0, 0])[0] == 0.0


def test_metric_input_errors():
    with pytest.raises(ValueError, match="both"):
        eer([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="NaN"):
        eer([np.nan, 0.2], [1, 0])
    with pytest.raises(ValueError, match="equally long"):
        min_dcf([0.1, 0.2, 0.3], [1, 0])


def test_bootstrap_interval():
    rng = np.random.default_rng(2)
    spk = np.repeat(np.arange(20), 5)
    i, j = np.triu_indices(100, 1)
    labels = (spk[i] == spk[j]).astype(int)
    scores = rng.normal(labels * 1.5, 1)
    rate, _ = eer(scores, labels)
    lo, hi = bootstrap_eer(scores, labels, spk[i], spk[j], n=100)
    assert lo <= rate <= hi and 0 < hi - lo < 0.2
    assert bootstrap_eer(labels.astype(float), labels, spk[i], spk[j], n=20) == (0.0, 0.0)


def test_evaluate_any_callable_oracle_scores_zero(fixture_root):
    "A callable that knows the speaker (one-hot by folder) must reach EER 0."
    speakers = sorted(p.name for p in (fixture_root / "cv_en").iterdir() if p.is_dir())
    oracle = lambda path: np.eye(len(speakers))[speakers.index(Path(path).parent.name)]
    res = evaluate(oracle, fixture_root, progress=False, n_boot=20)
    assert res.eer == 0.0 and res.min_dcf == 0.0 and res.eer_ci == (0.0, 0.0)
    assert (res.n_target, res.n_nontarget) == (36, 240)


def test_evaluate_our_model_from_folder_and_trial_file(fixture_root, small_model, tmp_path):
    res = evaluate(small_model, fixture_root, progress=False, n_boot=0)
    assert len(res.embeddings) == 24
    from simple_speaker_embedding.metrics import eer
    assert res.eer == pytest.approx(eer(res.trials.score, res.trials.label)[0])          # the EER of its own trials
    e = res.embeddings; t = res.trials.iloc[0]
    assert t.score == pytest.approx(float(e[t.path1] @ e[t.path2]), abs=1e-5)              # scored by cosine
    save_trials(res.trials, tmp_path / "t.txt", root=fixture_root)
    again = evaluate(small_model, load_trials(tmp_path / "t.txt", root=fixture_root), progress=False, n_boot=0)
    assert again.eer == pytest.approx(res.eer)
    with pytest.raises(FileNotFoundError):
        evaluate(small_model, tmp_path / "nothing-here")


def test_embeddings_are_computed_once_per_file(fixture_root):
    calls = []
    def counting(path):
        calls.append(path)
        return np.random.default_rng(len(calls)).normal(size=8)
    evaluate(counting, fixture_root, progress=False, n_boot=0)
    assert len(calls) == len(set(calls)) == 24


def test_plots_return_figures_and_save(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(30, 16)); spk = np.repeat(["a", "b", "c"], 10)
    fig = plot_tsne(emb, spk, path=tmp_path / "tsne.svg")
    assert (tmp_path / "tsne.svg").stat().st_size > 1000 and len(fig.axes) == 1
    labels = np.r_[np.ones(20), np.zeros(80)].astype(int)
    fig = plot_scores(rng.normal(labels, 1), labels, path=tmp_path / "scores.png")
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_resemblyzer_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "resemblyzer", None)   # as if not installed
    with pytest.raises(ImportError, match="optional"):
        resemblyzer_embedder()


def test_bootstrap_weights_equal_resampling_by_hand():
    "Each round counts a trial once per pair of drawn copies of its two speakers (a product of counts)."
    from simple_speaker_embedding.metrics import bootstrap_eer, eer
    rng = np.random.default_rng(1)
    spk = np.array([f"s{i}" for i in range(8)])
    i, j = np.triu_indices(40, 1); owner = np.repeat(np.arange(8), 5)
    s1, s2, labels = spk[owner[i]], spk[owner[j]], (owner[i] == owner[j]).astype(int)
    scores = rng.standard_normal(len(i)) + 1.5 * labels
    got = bootstrap_eer(scores, labels, s1, s2, n=30, seed=4)
    r, out = np.random.default_rng(4), []
    names, inv = np.unique(np.concatenate([s1, s2]), return_inverse=True)
    a, b = inv[:len(scores)], inv[len(scores):]
    for _ in range(30):
        counts = np.bincount(r.integers(0, len(names), len(names)), minlength=len(names))
        rep = counts[a] * counts[b]                                     # copies of each trial in the resampled set
        sc, lab = np.repeat(scores, rep), np.repeat(labels, rep)
        if lab.all() or not lab.any(): continue
        out.append(eer(sc, lab)[0])
    assert got == pytest.approx((np.quantile(out, 0.025), np.quantile(out, 0.975)), abs=1e-9)
