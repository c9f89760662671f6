"Meetings: the speech detector (offline), no turn under min_dur, trackers that merge one voice's two labels, sse diarize --ref."
import os
import re
import subprocess

import numpy as np
import pytest
from conftest import SSE
from hypothesis import given, settings
from hypothesis import strategies as st

CONV = os.path.join(os.path.dirname(__file__), "conversation", "three_speakers.ogg")


def test_the_speech_detector_runs_with_the_network_unavailable(tmp_path):
    """sse diarize (Silero VAD by default) in a process whose sockets
    cannot connect: the detector comes from the installed package."""
    (tmp_path / "sitecustomize.py").write_text(
        "import socket\n"
        "def _no(*a, **k): raise OSError('network disabled by the test')\n"
        "socket.socket.connect = _no; socket.socket.connect_ex = _no; socket.create_connection = _no\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    probe = subprocess.run(["python", "-c", "import socket; socket.create_connection(('pypi.org', 443))"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "network disabled by the test" in probe.stderr     # the block works
    r = subprocess.run([SSE, "diarize", CONV], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "3 speakers" in r.stderr and len(r.stdout.splitlines()) >= 6


def test_sse_diarize_ref_against_a_hand_checked_reference(sse, tmp_path):
    "The reference is the hypothesis with one turn given to a stranger and 2 s of speech added in a pause: by hand, "
    "confusion = that turn's length and missed = 2 s, over the reference speech."
    r = sse("diarize", CONV, "--rttm", tmp_path / "hyp.rttm")
    assert r.returncode == 0, r.stderr
    hyp = [(float(f[3]), float(f[3]) + float(f[4]),
            f[7]) for f in (l.split() for l in (tmp_path / "hyp.rttm").read_text().splitlines())]
    hyp.sort()
    ends = np.maximum.accumulate([e for _, e, _ in hyp])          # pauses: where no hypothesis segment is (it may overlap)
    gaps = [(b, c) for b, (c, _, _) in zip(ends, hyp[1:]) if c - b > 2.2]
    alone = lambda i: all(e <= hyp[i][0] + 0.002 or s >= hyp[i][1] - 0.002 for j, (s, e, _) in enumerate(hyp) if j != i)
    ref = list(hyp)
    # the longest turn of the first speaker that overlaps no other segment (RTTM rounds to 1 ms)
    k = max(range(len(ref)), key=lambda i: ref[i][1] - ref[i][0] if ref[i][2] == ref[0][2] and alone(i) else -1)
    assert ref[k][2] == ref[0][2] and alone(k)
    changed = ref[k][1] - ref[k][0]
    ref[k] = (ref[k][0], ref[k][1], "stranger")
    if gaps: ref.append((gaps[0][0] + 0.1, gaps[0][0] + 2.1, hyp[0][2]))
    miss = 2.0 if gaps else 0.0
    (tmp_path / "ref.rttm").write_text("".join(f"SPEAKER conv 1 {s:.3f} {e - s:.3f} <NA> <NA> {n} <NA> <NA>\n" for s, e,
                                               n in ref))
    total = sum(e - s for s, e, _ in ref)
    r = sse("diarize", CONV, "--ref", tmp_path / "ref.rttm", "--collar", "0")
    assert r.returncode == 0, r.stderr
    m = re.search(r"DER ([\d.]+)% \(missed speech ([\d.]+), false alarm ([\d.]+), speaker confusion ([\d.]+)\), JER ([\d.]+)%",
                  r.stdout)
    assert m, r.stdout
    der_, miss_, fa_, conf_ = (float(m.group(i)) for i in range(1, 5))
    assert conf_ == pytest.approx(100 * changed / total, abs=0.02) and miss_ == pytest.approx(100 * miss / total, abs=0.02)
    assert fa_ == pytest.approx(0, abs=0.01) and der_ == pytest.approx(conf_ + miss_ + fa_, abs=0.02)
    r = sse("diarize", CONV, "--ref", tmp_path / "missing.rttm")
    assert r.returncode == 1 and "reference file not found" in r.stderr


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=3, max_size=30), st.integers(0, 10_000), st.floats(0.1, 1.0))
def test_no_turn_is_shorter_than_min_dur(labels, seed, min_dur):
    "Random window labels and speech masks: every turn `window_segments` gives lasts at least `min_dur`."
    from simple_speaker_embedding.diarize import Partials, window_segments
    rng = np.random.default_rng(seed); fps = 86.13
    n = len(labels); starts = np.arange(n) * 0.75; ends = starts + 1.5
    voiced = rng.random(int(ends[-1] * fps) + 1) < rng.uniform(0.3, 1.0)
    p = Partials(starts, ends, np.zeros((n, 1)), voiced, fps)
    segs = window_segments(p, np.array(labels), min_dur=min_dur)
    assert all(e - s >= min_dur - 1e-9 for s, e, _ in segs), segs


def test_a_tracker_merges_two_labels_of_one_voice_once_windows_connect_them(small_model):
    "An enrolled voice first heard as a stranger (spk0) is merged into the enrolled name once spk0's windows score with it."
    from simple_speaker_embedding.track import SpeakerTracker
    t = SpeakerTracker(small_model, vad="energy", threshold=0.8)       # cosine rule: this model has no cohort
    d = 2 * small_model.proj.out_features
    rng = np.random.default_rng(0); bob = rng.standard_normal(d); bob /= np.linalg.norm(bob)
    o = rng.standard_normal(d); o -= (o @ bob) * bob; o /= np.linalg.norm(o)
    unit = lambda v: v / np.linalg.norm(v)
    t.enrolled.append(("bob", bob.copy())); t.reset()                   # enrolled as `enrol` does, from features
    far = unit(bob + 0.9 * o)                                           # cos 0.74 with bob: under the threshold
    out = t._decide(0, 10, far) + t._decide(10, 20, far)                # two agreeing windows open spk0
    assert [x.speaker for x in out] == ["spk0", "spk0"] and not t.merges
    near = unit(bob + 0.45 * o)                                         # nearer bob, but still nearer spk0's windows
    for k in range(6):
        x = t._decide(20 + 10 * k, 30 + 10 * k, near)[0]
        if t.merges: break
        assert x.speaker == "spk0"
    assert t.merges and t.merges[0][:2] == ("spk0", "bob")
    assert t.speakers == ["bob"] and {t.names[t._live(j)] for *_, j in t.decided} == {"bob"}   # what segments() names
    assert t._decide(200, 210, near)[0].speaker == "bob"               # spk0 is gone: its voice is bob's


@pytest.mark.parametrize("kind", ["webrtc", "silero"])
def test_each_detector_widens_its_speech_by_its_own_padding(kind):
    "`speech_mask`'s default padding: every speech run of the unpadded mask, k frames wider on each side (runs merged)."
    from simple_speaker_embedding.audio import load_audio
    from simple_speaker_embedding.vad import VAD_PAD_S, WEBRTC_PAD_S, speech_mask
    x, sr = load_audio(CONV)
    fps = 22050 / 256; n = int(len(x) / sr * fps)
    bare = speech_mask(x, sr, n, fps, kind=kind, pad_s=0)
    k = round((WEBRTC_PAD_S if kind == "webrtc" else VAD_PAD_S) * fps)
    want = np.zeros(n, bool)
    for i in np.flatnonzero(bare): want[max(0, i - k):i + k + 1] = True
    assert 0 < bare.sum() < n and k > 0
    np.testing.assert_array_equal(speech_mask(x, sr, n, fps, kind=kind), want)
