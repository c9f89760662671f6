"""Property-based tests (hypothesis) where the input space is the point: stream lengths and chunkings, calibration windows,
the held-out speaker draw, the confirm rule of the tracker. Expectations are computed here, not by the code under test."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# --- streaming = offline, at every length around the window boundaries ---

@pytest.fixture(scope="module")
def tiny():
    from simple_speaker_embedding.model import GRUEmbedder
    torch.manual_seed(0)
    return GRUEmbedder(hidden=16, layers=1).eval()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(0, 4), d=st.integers(-2, 2), cuts=st.lists(st.integers(1, 40000), max_size=6), seed=st.integers(0, 99))
def test_a_stream_of_any_length_near_a_window_boundary_ends_with_the_offline_embedding(tiny, k, d, cuts, seed):
    "Lengths of 860 frames (where windowing starts) and then every 215 frames (a window hop) +-2 frames, random chunks."
    frames = 860 + 215 * k + d
    n = (frames - 1) * 256 + 100                                        # samples that make exactly `frames` (centred) STFT frames
    x = (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)
    mel = tiny.melspec_from_array(x, 22050)
    assert mel.shape[0] == frames
    offline = tiny.embed_mels([mel])[0]
    from simple_speaker_embedding.stream import StreamingEmbedder
    st_ = StreamingEmbedder(tiny)
    for part in np.split(x, sorted(set(c % n for c in cuts))): st_.push(part, 22050)
    torch.testing.assert_close(st_.end(), offline, atol=2e-5, rtol=0)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=5), seed=st.integers(0, 999), chunk=st.floats(0.01, 2.0))
def test_file_chunks_reassemble_the_file(tmp_path_factory, sizes, seed, chunk):
    import soundfile as sf

    from simple_speaker_embedding.stream import file_chunks
    x = (np.random.default_rng(seed).standard_normal(sum(sizes)) * 0.1).astype(np.float32)
    p = tmp_path_factory.mktemp("c") / "a.wav"; sf.write(p, x, 8000, subtype="FLOAT")
    parts = list(file_chunks(p, chunk))
    assert all(sr == 8000 for _, sr in parts)
    np.testing.assert_array_equal(np.concatenate([c for c, _ in parts]), x)
    assert all(len(c) == max(1, int(round(chunk * 8000))) for c, _ in parts[:-1])


# --- decision thresholds ---

def _fa(s, l, t): return np.mean(s[l == 0] >= t)
def _fr(s, l, t): return np.mean(s[l == 1] < t)


score_sets = st.lists(st.tuples(st.integers(5, 60), st.integers(20, 300), st.floats(0.5, 4.0), st.integers(0, 10**6)),
                      min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(sets=score_sets, fa=st.sampled_from([0.01, 0.03, 0.1]), fa_set=st.sampled_from([None, 0.03, 0.1]),
       fr_set=st.sampled_from([None, 0.05, 0.15, 0.3]))
def test_calibrated_threshold_keeps_every_promise_checked_by_brute_force(sets, fa, fa_set, fr_set):
    from simple_speaker_embedding.metrics import calibrate_threshold
    data = {}
    for i, (nt, nn, sep, seed) in enumerate(sets):
        r = np.random.default_rng(seed)
        s = np.concatenate([r.normal(sep, 1, nt), r.normal(0, 1, nn)]).round(2)       # ties on purpose
        data[f"set{i}"] = (s, np.r_[np.ones(nt, int), np.zeros(nn, int)])
    th = calibrate_threshold(data, fa, fa_set, fr_set)
    S = np.concatenate([s for s, _ in data.values()]); L = np.concatenate([l for _, l in data.values()])
    assert _fa(S, L, th) <= fa + 1e-12                                         # the pooled false-accept promise
    if fa_set is not None: assert all(_fa(s, l, th) <= fa_set + 1e-12 for s, l in data.values())
    if fr_set is not None:
        cands = np.unique(np.r_[S, S + 1e-6, S - 1e-6])                       # every threshold that matters, brute force
        ok_fa = [t for t in cands if _fa(S, L,
                                         t) <= fa and (fa_set is None or all(_fa(s, l, t) <= fa_set for s, l in data.values()))]
        ok_fr = [t for t in cands if all(_fr(s, l, t) <= fr_set for s, l in data.values())]
        edge = calibrate_threshold(data, fa, fa_set, None)                    # the false-accept edge alone
        if ok_fa and ok_fr and min(ok_fa) <= max(ok_fr):                      # a window exists: it must be inside it
            assert all(_fr(s, l, th) <= fr_set + 1e-12 for s, l in data.values()), th
            assert th >= edge
        else: assert th == edge                                               # no window: the false-accept promise wins


# --- the held-out draw ---

def _manifest(counts):
    import pandas as pd
    rows = [(f"d{d}", f"s{d}_{k}") for d, n in enumerate(counts) for k in range(n) for _ in range(2)]
    return pd.DataFrame(rows, columns=["dataset", "speaker"])


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 60), min_size=1, max_size=5), pct=st.sampled_from([0.05, 0.1, 0.25]),
       seed=st.integers(0, 5))
@example(counts=[3], pct=0.1, seed=0).via("the tiny-store fallback at its edge")
@example(counts=[1, 1, 1], pct=0.05, seed=1).via("the tiny-store fallback at its edge")
@example(counts=[2], pct=0.25, seed=0).via("the tiny-store fallback at its edge")
def test_held_out_speakers_per_dataset_by_hand(counts, pct, seed):
    from simple_speaker_embedding.data import held_out_speakers
    man = _manifest(counts)
    got = held_out_speakers(man, pct, seed)
    assert got == held_out_speakers(man, pct, seed)                           # deterministic
    want = [max(1 if n >= 4 else 0,
                int(np.floor(pct * n + 0.5)) if (pct * n) % 1 != 0.5 else int(round(pct * n))) for n in counts]
    if sum(want) >= 2:
        per = [sum(1 for g in got if g.startswith(f"d{d}/")) for d in range(len(counts))]
        assert per == want, (per, want)
    else:                                                   # too few drawn for an EER: two speakers over all, where three exist
        total = sum(counts)
        assert len(got) == (min(2, total - 1) if total > 2 else 0), (got, counts)
    assert len(set(got)) == len(got)


def test_held_out_speakers_are_the_same_in_processes_with_other_hash_seeds():
    code = ("import json; from test_properties import _manifest; from simple_speaker_embedding.data import held_out_speakers; "
            "print(json.dumps(held_out_speakers(_manifest([13, 7, 30, 2]), 0.1, 0)))")
    outs = {subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=h,
                                                                 PYTHONPATH=os.path.dirname(__file__)),
                           capture_output=True, text=True, check=True).stdout for h in ("1", "2")}
    assert len(outs) == 1, outs


# --- the tracker's confirm rule, at exactly its count ---

@pytest.mark.parametrize("confirm", [1, 2, 3])
def test_a_new_speaker_opens_after_exactly_confirm_agreeing_windows(small_model, confirm):
    from simple_speaker_embedding.track import SpeakerTracker
    t = SpeakerTracker(small_model, vad="energy", threshold=0.8, confirm=confirm)
    d = 2 * small_model.proj.out_features
    r = np.random.default_rng(1); a = r.standard_normal(d); a /= np.linalg.norm(a)
    b = r.standard_normal(d); b -= (b @ a) * a; b /= np.linalg.norm(b)
    first = t._decide(0, 10, a)
    assert [x.speaker for x in first] == ["spk0"] and first[0].new           # nobody known yet: the first voice opens at once
    out = []
    for k in range(confirm):
        got = t._decide(10 * (k + 1), 10 * (k + 2), b)
        if k < confirm - 1: assert got == [], (k, got)                       # held until `confirm` windows agree
        out += got
    assert [x.speaker for x in out] == ["spk1"] * confirm and out[0].new and not any(x.new for x in out[1:])


def test_calibration_rates_at_their_bounds():
    "0 is a rate (no false accepts at all); 1 is not (every trial accepted is no threshold)."
    from simple_speaker_embedding.metrics import calibrate_threshold
    s, l = np.array([0.1, 0.2, 0.9, 0.95]), np.array([0, 0, 1, 1])
    assert calibrate_threshold({"a": (s, l)}, 0.0) > 0.2
    assert calibrate_threshold({"a": (s, l)}, 0.0, max_fa_per_set=0.0, max_fr_per_set=0.0) <= 0.9
    for kw in (dict(target_fa=1.0), dict(max_fa_per_set=1.0), dict(max_fr_per_set=1.0), dict(target_fa=-0.01)):
        with pytest.raises(ValueError, match="must be in \\[0, 1\\)"): calibrate_threshold({"a": (s, l)}, **kw)
