"Diarization end to end on the CC0 fixture conversation: segments, speaker counts, RTTM, bad input, `sse diarize`."
from pathlib import Path

import numpy as np
import pytest
import torch

from simple_speaker_embedding.audio import AudioError
from simple_speaker_embedding.diarize import cluster_windows, diarize, partial_embeddings, read_rttm, to_rttm
from simple_speaker_embedding.metrics import der

CONV = Path(__file__).parent / "conversation" / "three_speakers.ogg"
REF = read_rttm(CONV.with_suffix(".rttm"))


@pytest.fixture(scope="module")
def model():
    from simple_speaker_embedding.hub import gru_embedder
    return gru_embedder()


def test_reference_is_three_alternating_speakers():
    assert len({s for *_, s in REF}) == 3 and all(a[2] != b[2] for a, b in zip(REF, REF[1:]))


def test_known_speakers_recovered(model):
    hyp = diarize(model, CONV, num_speakers=3)
    assert len({s for *_, s in hyp}) == 3
    d = der(REF, hyp)
    assert d["der"] < 0.07, d                              # measured 4.4% with the shipped model (both ways or forwards only)
    assert d["confusion"] < 0.02, d                        # measured 0.1%


def test_scores_follow_the_models_rule(model, monkeypatch):
    "The shipped model scores with AS-norm, so the clustering gets its cohort; `norm=False` (or a cosine model) does not."
    import simple_speaker_embedding.diarize as dz
    seen = []
    real = dz.cluster_windows
    monkeypatch.setattr(dz, "cluster_windows", lambda *a, **kw: seen.append(kw.get("cohort")) or real(*a, **kw))
    assert model.scoring == "as-norm" and model.cohort is not None
    normed = dz.diarize(model, CONV, num_speakers=3)
    plain = dz.diarize(model, CONV, num_speakers=3, norm=False)
    assert seen[0] is model.cohort and seen[1] is None
    for hyp in (normed, plain): assert der(REF, hyp)["der"] < 0.07


def test_resegmentation_applied_and_optional(model, monkeypatch):
    "`diarize` re-decodes the clustered labels in time order with the switch cost it is given; `switch=None` skips it."
    import simple_speaker_embedding.diarize as dz
    costs = []
    real = dz.resegment
    monkeypatch.setattr(dz, "resegment", lambda e, lab, penalty=dz.DIARIZE_SWITCH,
                        **kw: costs.append(penalty) or real(e, lab, penalty, **kw))
    default = dz.diarize(model, CONV, num_speakers=3)
    stiff = dz.diarize(model, CONV, num_speakers=3, switch=5.0)
    skipped = dz.diarize(model, CONV, num_speakers=3, switch=None)
    assert costs == [dz.DIARIZE_SWITCH, 5.0]
    assert der(REF, default)["der"] < 0.07 and der(REF, skipped)["der"] < 0.07
    assert len({s for *_, s in stiff}) < 3                  # a change of speaker costing more than any cosine gain: turns merge


def test_both_ways_compared_by_default(model, monkeypatch):
    "`diarize` clusters the windows' forward and backward embeddings side by side; `both_ways=False` uses forwards only."
    import simple_speaker_embedding.diarize as dz
    dims = []
    real = dz.cluster_windows
    monkeypatch.setattr(dz, "cluster_windows", lambda e, *a, **kw: dims.append(np.shape(e)[1]) or real(e, *a, **kw))
    both = dz.diarize(model, CONV, num_speakers=3)
    one = dz.diarize(model, CONV, num_speakers=3, both_ways=False)
    assert dims == [512, 256]                               # the cohort (256-d) scores both views
    assert der(REF, both)["der"] < 0.07 and der(REF, one)["der"] < 0.07


def test_speaker_count_estimated(model):
    hyp = diarize(model, CONV)                             # count: eigengap of the cosine graph
    assert len({s for *_, s in hyp}) == 3                  # measured: 3, and the same segments as with the count given
    assert der(REF, hyp)["der"] < 0.07
    one = diarize(model, CONV, distance=2.0)              # nothing is too far apart: one speaker
    assert len({s for *_, s in one}) == 1


def test_segments_are_ordered_and_inside_the_recording(model):
    hyp = diarize(model, CONV, num_speakers=3)
    starts = [s for s, _, _ in hyp]
    assert starts == sorted(starts) and all(e > s for s, e, _ in hyp)
    assert hyp[-1][1] <= REF[-1][1] + 1.0


def test_rttm_round_trip(tmp_path):
    text = to_rttm(REF, "conv")
    lines = text.splitlines()
    assert len(lines) == len(REF) and all(len(l.split()) == 10 and l.startswith("SPEAKER conv 1 ") for l in lines)
    (tmp_path / "x.rttm").write_text(text)
    back = read_rttm(tmp_path / "x.rttm")
    assert [(round(s, 3), round(e, 3), n) for s, e, n in REF] == [(round(s, 3), round(e, 3), n) for s, e, n in back]
    assert der(REF, back, collar=0)["der"] < 1e-3


def test_bad_input(model):
    x = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32) * 0.1
    with pytest.raises(ValueError, match="1-D"): partial_embeddings(model, np.stack([x, x]))   # one channel only
    with pytest.raises(AudioError, match="too short"): partial_embeddings(model, x[:4000])
    with pytest.raises(ValueError, match="hop"): partial_embeddings(model, x, hop=3.0)
    with pytest.raises(ValueError, match="num_speakers"): cluster_windows(np.eye(3), num_speakers=0)


def test_cli_diarize_writes_rttm(sse, tmp_path):
    out = tmp_path / "conv.rttm"
    r = sse("diarize", CONV, "--speakers", "3", "--rttm", out)
    assert r.returncode == 0, r.stderr
    assert "3 speakers" in r.stderr and len(r.stdout.splitlines()) == len(read_rttm(out))
    assert der(REF, read_rttm(out))["der"] < 0.07
    two = sse("diarize", CONV, "--speakers", "2")
    assert two.returncode == 0 and "2 speakers" in two.stderr, two.stderr   # (estimated, the count would be 3)
    bad = sse("diarize", tmp_path / "nope.wav")
    assert bad.returncode == 1 and "not found" in bad.stderr


def test_cli_diarize_cosine_and_one_way_flags(monkeypatch, capsys):
    "`sse diarize` scores with the model's rule, windows both ways, by default; `--cosine` / `--one-way` switch each off."
    import simple_speaker_embedding.diarize as dz
    from simple_speaker_embedding.cli import main
    seen = []
    real = dz.diarize
    monkeypatch.setattr(dz, "diarize", lambda *a, **kw: seen.append((kw["norm"], kw["both_ways"])) or real(*a, **kw))
    assert main(["diarize", str(CONV), "--speakers", "3"]) == 0
    assert main(["diarize", str(CONV), "--speakers", "3", "--cosine"]) == 0
    assert main(["diarize", str(CONV), "--speakers", "3", "--one-way"]) == 0
    assert seen == [(True, True), (False, True), (True, False)]
    assert len(capsys.readouterr().out.splitlines()) >= 9             # segments printed by every run


def test_cli_diarize_counts_on_cosines_by_default_and_on_asnorm_scores_with_count_norm(monkeypatch, capsys):
    """`sse diarize` counts speakers on the cosine graph (pruned at DIARIZE_COUNT_PRUNE) by its eigenvalues under
    DIARIZE_COUNT_BELOW, then on the clustering's AS-norm graph under DIARIZE_COUNT_NORM_BELOW (kept up to one more);
    `--count-norm` on the graph of the model's AS-norm scores against its cohort, by the eigengap alone."""
    import simple_speaker_embedding.diarize as dz
    from simple_speaker_embedding.cli import main
    seen, real = [], dz.estimate_speakers
    def spy(e, m, p, *g, below=None): seen.append((len(g), p, below)); return real(e, m, p, *g, below=below)
    monkeypatch.setattr(dz, "estimate_speakers", spy)
    assert main(["diarize", str(CONV)]) == 0 and main(["diarize", str(CONV), "--count-norm"]) == 0
    assert seen == [(0, dz.DIARIZE_COUNT_PRUNE, dz.DIARIZE_COUNT_BELOW), (2, dz.DIARIZE_PRUNE, dz.DIARIZE_COUNT_NORM_BELOW),
                    (2, dz.DIARIZE_COUNT_NORM_PRUNE, None)]
    assert dz.DIARIZE_COUNT_NORM_BELOW is not None and capsys.readouterr().err.count("speakers,") == 2


def test_affinity_keeps_each_rows_strongest_neighbours_only():
    "Pruning keeps the `keep` largest affinities of each row (then symmetrises); everything else is 0."
    from simple_speaker_embedding.diarize import affinity
    rng = np.random.default_rng(0)
    e = rng.normal(size=(40, 16)) + 2.0; e /= np.linalg.norm(e, axis=1, keepdims=True)     # all cosines positive
    a, cos, keep = affinity(e, prune=0.25), e @ e.T, 10
    top = np.argsort(-cos, axis=1)[:, :keep]
    strong = np.zeros_like(cos, bool); strong[np.arange(40)[:, None], top] = True
    assert np.allclose(a[strong], cos[strong])                              # every row's 10 strongest stay, unchanged
    assert np.allclose(a, a.T) and (a[~(strong | strong.T)] == 0).all()    # and nothing that is in no row's top 10
    assert (a > 0).sum(1).max() < 40                                        # the graph is pruned, not full


def test_voiced_frames_compare_energy_in_db():
    "Silence is 40 dB below the loudest frame in energy (exp(2 * log-amplitude)), not in amplitude."
    from simple_speaker_embedding.diarize import voiced_frames
    mel = torch.zeros(3, 80); mel[1] -= 6.0; mel[2] -= 4.0          # energy: -52 dB and -35 dB below frame 0
    assert voiced_frames(mel).tolist() == [True, False, True]          # (in amplitude, -26 dB would count as voiced)


def test_window_hop_sets_the_step_between_windows(small_model, tone):
    from simple_speaker_embedding.diarize import partial_embeddings
    x = tone(6.0, 22050)
    for hop in (0.5, 1.0):
        # a tone: the energy rule (the detector hears no speech)
        p = partial_embeddings(small_model, x, window=1.5, hop=hop, both_ways=False, vad="energy")
        steps = np.diff(p.starts)[:-1]                                # the last window is aligned to the end
        assert np.allclose(steps, round(hop * 22050 / 256) * 256 / 22050)


def test_der_by_hand_with_a_collar_and_with_overlap():
    from simple_speaker_embedding.metrics import der
    d = der([(0, 10, "a")], [(0, 9, "a")], collar=0.5)               # scored 0.5-9.5 s: 0.5 s missed of 9 s
    assert d["der"] == pytest.approx(0.5 / 9, abs=2e-3) and d["speech"] == pytest.approx(9, abs=0.02)
    d = der([(0, 10, "a"), (5, 10, "b")], [(0, 10, "x")], collar=0)    # 15 s of reference speech, 5 s overlapped
    assert d["speech"] == pytest.approx(15, abs=0.02) and d["der"] == pytest.approx(5 / 15, abs=2e-3)
    assert d["miss"] == pytest.approx(5 / 15, abs=2e-3) and d["confusion"] == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_eigengap_counts_blocks(k):
    "Windows from k well-separated speakers: the eigengap of the pruned affinity graph says k."
    from simple_speaker_embedding.diarize import estimate_speakers
    rng = np.random.default_rng(k)
    centres = np.linalg.qr(rng.standard_normal((64, k)))[0].T          # k orthogonal speaker directions
    e = np.concatenate([c + 0.15 * rng.standard_normal((12, 64)) / 8 for c in centres])
    assert estimate_speakers(e / np.linalg.norm(e, axis=1, keepdims=True)) == k


@pytest.mark.parametrize("k", [1, 2, 3, 5, 12])
def test_counting_eigenvalues_under_a_value_counts_separated_speakers(k):
    """k speakers whose windows share no affinity (orthogonal directions) make a graph of k components: its normalised
    Laplacian has exactly k eigenvalues of 0 and the rest at least 1 (each component a clique of positive weights), so
    any value in between counts k, up to `max_speakers`; the default of `cluster_windows` counts this way."""
    from simple_speaker_embedding.diarize import DIARIZE_COUNT_BELOW, cluster_windows, estimate_speakers
    rng = np.random.default_rng(k)
    centres = np.linalg.qr(rng.standard_normal((64, k)))[0].T
    e = np.concatenate([np.repeat(c[None], 8, 0) + 0.01 * rng.standard_normal((8, 64)) for c in centres])
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    for below in (0.1, 0.25, 0.9):
        assert estimate_speakers(e, prune=1.0, below=below) == min(k, 10)
    assert estimate_speakers(e, max_speakers=4, prune=1.0, below=0.5) == min(k, 4)
    assert DIARIZE_COUNT_BELOW is not None and cluster_windows(e, prune=1.0, count_prune=1.0).max() + 1 == min(k, 10)


def test_two_view_features_score_against_the_cohort_in_both_views():
    "A 256-d cohort scores 512-d (forward, backward) features as if each cohort speaker were in both views, at unit length."
    from simple_speaker_embedding.diarize import affinity
    rng = np.random.default_rng(0)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)
    f, c = unit(rng.standard_normal((20, 16))), unit(rng.standard_normal((30, 8)))
    tiled = np.tile(c, (1, 2)) / np.sqrt(2)                            # what a two-view cohort is: unit rows
    np.testing.assert_allclose(affinity(f, prune=1.0, cohort=c, top_k=5),
                               affinity(f, prune=1.0, cohort=tiled, top_k=5), rtol=1e-5)


def test_voiced_frames_between_windows_go_to_the_nearer_window_centre():
    "Two windows (centres at 2 s and 12 s, 1 frame a second) and voiced frames between them that no window covers: each "
    "gap frame takes the label of the nearer centre, so the turn changes at 7 s, the midpoint (by hand)."
    from simple_speaker_embedding.diarize import Partials, window_segments
    p = Partials(np.array([0.0, 10.0]), np.array([4.0, 14.0]), np.eye(2), np.ones(14, bool), 1.0)
    segs = window_segments(p, np.array([0, 1]), min_dur=0, min_silence=0, fill=10)
    assert [(round(s, 3), round(e, 3), n) for s, e, n in segs] == [(0.0, 7.0, "spk0"), (7.0, 14.0, "spk1")]


def test_resegmentation_absorbs_a_lone_window_and_its_speaker_disappears():
    "One odd window inside a long turn, a switch cost larger than its gain: the turn is one speaker and the odd label is "
    "gone (its empty class must not become NaN scores)."
    from simple_speaker_embedding.diarize import resegment
    rng = np.random.default_rng(0)
    a, b, c = np.eye(8)[0], np.eye(8)[1], np.eye(8)[2]
    e = np.stack([a] * 8 + [0.8 * a + 0.6 * c] + [a] * 8 + [b] * 8) + 0.01 * rng.normal(size=(25, 8))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    got = resegment(e, np.array([0] * 8 + [2] + [0] * 8 + [1] * 8), 5.0)
    assert got.tolist() == [0] * 17 + [1] * 8


def test_a_short_turn_goes_to_the_previous_speaker():
    "Turns of 20, 2 and 38 frames (1 frame a second), min_dur 5 s: the 2-s turn joins the speaker before it (the rule "
    "`window_segments` documents), not the longer one after it."
    from simple_speaker_embedding.diarize import Partials, window_segments
    p = Partials(np.array([0.0, 20.0, 22.0]), np.array([20.0, 22.0, 60.0]), np.eye(3), np.ones(60, bool), 1.0)
    segs = window_segments(p, np.array([0, 1, 2]), min_dur=5, min_silence=0, fill=0)
    assert [(round(s, 3), round(e, 3), n) for s, e, n in segs] == [(0.0, 22.0, "spk0"), (22.0, 60.0, "spk2")]


def test_counting_eigenvalues_under_a_value_is_not_the_eigengap():
    """Five groups of 8 identical windows: C apart from all, A and B at cosine 0.1, D and E at 0.4. The graph has three
    components, and splitting a pair of groups at cosine c gives the normalised Laplacian the eigenvalue 2c / (1 + c)
    (by hand: degrees 8 (1 + c), the vector +1 on one group and -1 on the other), every other eigenvalue is 1. So the
    eigenvalues are 0, 0, 0, 0.18, 0.57, 1, ...: the largest gap (0.57 -> 1) says 5, and under 0.25 there are 4."""
    from simple_speaker_embedding.diarize import estimate_speakers
    u = np.linalg.qr(np.random.default_rng(0).standard_normal((32, 5)))[0].T
    pair = lambda x, y, c: [x, c * x + np.sqrt(1 - c * c) * y]
    e = np.repeat(np.stack([u[0], *pair(u[1], u[2], 0.1), *pair(u[3], u[4], 0.4)]), 8, axis=0)
    e += 1e-5 * np.random.default_rng(1).standard_normal(e.shape); e /= np.linalg.norm(e, axis=1, keepdims=True)
    assert estimate_speakers(e, prune=1.0) == 5
    assert [estimate_speakers(e, prune=1.0, below=b) for b in (0.1, 0.25, 0.6, 0.99)] == [3, 4, 5, 5]


def test_the_asnorm_graphs_count_is_kept_up_to_one_more_than_the_cosine_count(monkeypatch):
    """With a cohort and `count_norm_below`, the count is the AS-norm graph's (the clustering's graph, its pruning, its
    eigenvalues under the value), but never more than one over the cosine graph's; without either, the cosine count."""
    import simple_speaker_embedding.diarize as dz
    rng = np.random.default_rng(0)
    e = rng.standard_normal((40, 8)); e /= np.linalg.norm(e, axis=1, keepdims=True)
    coh = rng.standard_normal((20, 8)); coh /= np.linalg.norm(coh, axis=1, keepdims=True)
    for cos, asn, want in ((2, 4, 3), (2, 3, 3), (3, 2, 2), (3, 3, 3), (1, 5, 2)):   # min(cos + 1, asn), by hand
        calls = []
        def spy(embs, m, prune, *g, below=None): calls.append((len(g), prune, below)); return asn if g else cos
        monkeypatch.setattr(dz, "estimate_speakers", spy)
        assert dz.cluster_windows(e, cohort=coh, prune=0.3, count_norm_below=0.2).max() + 1 == want
        assert calls == [(0, dz.DIARIZE_COUNT_PRUNE, dz.DIARIZE_COUNT_BELOW), (2, 0.3, 0.2)]
        assert dz.cluster_windows(e, cohort=coh, count_norm_below=None).max() + 1 == cos     # switched off
        assert dz.cluster_windows(e, count_norm_below=0.2).max() + 1 == cos                  # no cohort: cosines only


def test_one_speaker_given_is_one_label_and_two_windows_of_two_speakers_are_two():
    "The edges of `cluster_windows`: `num_speakers=1` labels every window 0, two windows can be two speakers, 0 is an error."
    from simple_speaker_embedding.diarize import cluster_windows
    e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.02]]); e /= np.linalg.norm(e, axis=1, keepdims=True)
    assert cluster_windows(e, 1).tolist() == [0, 0, 0]
    assert cluster_windows(e[:2], 2).tolist() == [0, 1]               # orthogonal: one speaker each
    with pytest.raises(ValueError, match="num_speakers"): cluster_windows(e, 0)
