"Live speaker tracking: the stream's decisions, their turns against the offline `diarize`, enrolment, and `sse listen` on stdin."
import io
import warnings
from pathlib import Path

import numpy as np
import pytest

from simple_speaker_embedding.audio import AudioError, load_audio
from simple_speaker_embedding.diarize import diarize, read_rttm
from simple_speaker_embedding.hub import gru_embedder
from simple_speaker_embedding.metrics import der
from simple_speaker_embedding.model import GRUEmbedder
from simple_speaker_embedding.stream import pcm_chunks
from simple_speaker_embedding.track import TRACK_NEW, SpeakerTracker

CONV = Path(__file__).parent / "conversation" / "three_speakers.ogg"
REF = read_rttm(CONV.with_suffix(".rttm"))
CV = Path(__file__).parent / "fixtures" / "cv_en"
ENROL = {"ann": CV / "cv_2b5c37d0e0fd8a37" / "common_voice_en_37038209.ogg",      # two of the conversation's three voices
         "bob": CV / "cv_1b16cc0ee04369e0" / "common_voice_en_37027990.ogg"}
NAMED = {"cv_2b5c37d0e0fd8a37": "ann", "cv_1b16cc0ee04369e0": "bob", "cv_8db7f4358d8b34de": "unknown"}


@pytest.fixture(scope="module")
def model():
    return gru_embedder()


@pytest.fixture(scope="module")
def conv():
    return load_audio(CONV, sr=None)                      # 16 kHz, as recorded


def runs(labels):
    "Consecutive equal labels collapsed, numbered by first appearance."
    order = {}
    out = [order.setdefault(l, len(order)) for l in labels]
    return [l for i, l in enumerate(out) if i == 0 or l != out[i - 1]]


def stream(t, x, sr, rng=None, size=1600):
    "Push `x` in chunks (random sizes, zero included, with `rng`); the decisions and the samples pushed when each came."
    out, i = [], 0
    while i < len(x):
        n = int(rng.integers(0, 6000)) if rng is not None else size
        out += [(d, i + n) for d in t.push(x[i:i + n], sr)]; i += n
    return out + [(d, len(x)) for d in t.end()]


@pytest.mark.parametrize("seed", [None, 0])
def test_online_turns_agree_with_offline_diarize(model, conv, seed):
    x, sr = conv
    t = model.track()
    got = stream(t, x, sr, None if seed is None else np.random.default_rng(seed))
    online, offline = t.segments(), diarize(model, CONV)
    assert der(offline, online)["der"] < 0.03, der(offline, online)      # measured 0.0: the same turns
    assert der(REF, online)["der"] < 0.07                               # offline: 4.4%
    assert t.speakers == ["spk0", "spk1", "spk2"] and sum(d.new for d, _ in got) == 3
    for d, pushed in got:        # decided once its window (+ one held, + a chunk) had arrived; frames are 11.6 ms apart
        assert d.end * sr <= pushed + 0.012 * sr and pushed / sr - d.end < 1.5 + 0.1 + 6000 / sr


def test_decisions_come_while_the_stream_runs(model, conv):
    x, sr = conv
    t = model.track()
    first = next(i for i in range(0, len(x), 1600) if t.push(x[i:i + 1600], sr))
    assert first / sr < 2.5                                             # the first window (1.5 s) decided at once


def test_enrolled_speakers_are_named_and_others_unknown(model, conv):
    x, sr = conv
    t = model.track(enrolled=ENROL, new_speakers=False)
    ds = [d for d, _ in stream(t, x, sr)]
    want = [(s, e, NAMED[n]) for s, e, n in REF]
    assert {d.speaker for d in ds} == {"ann", "bob", "unknown"}
    assert der(want, t.segments())["der"] < 0.1                          # measured 5.1%
    t.reset()
    assert t.speakers == ["ann", "bob"]                                 # enrolled speakers stay, found ones go
    t = model.track(enrolled=ENROL)                                     # new speakers allowed: the third voice is found
    stream(t, x, sr)
    assert t.speakers == ["ann", "bob", "spk0"]
    with pytest.raises(ValueError, match="enrolled already"): t.enrol("ann", x)
    with pytest.raises(ValueError, match="a name the tracker gives itself"): t.enrol("unknown", x)


def test_the_rule_holds_odd_windows_and_opens_speakers_on_agreement(model):
    "Synthetic features, cosine rule: one odd window goes to its best match; two agreeing ones open a speaker."
    t = SpeakerTracker(GRUEmbedder(hidden=32, layers=1), threshold=0.5, confirm=2)       # no cohort: cosine rule
    assert t.threshold == 0.5 and TRACK_NEW["cosine"] != TRACK_NEW["as-norm"]
    rng = np.random.default_rng(0)
    a, b, c = (v / np.linalg.norm(v) for v in rng.normal(size=(3, 512)))
    noisy = lambda v: (v + 0.1 * rng.normal(size=512) / np.sqrt(512)) / np.linalg.norm(v)
    out = []
    for i, v in enumerate([a, a, a, b, a, c, c, c]): out += t._decide(10 * i, 10 * i + 10, noisy(v))
    out += t._flush()
    assert [d.speaker for d in sorted(out, key=lambda d: d.start)] == ["spk0"] * 5 + ["spk1"] * 3
    assert [d.new for d in sorted(out, key=lambda d: d.start)] == [True, False, False, False, False, True, False, False]


def test_silence_short_streams_and_bad_chunks(model, conv):
    x, sr = conv
    t = model.track()
    assert t.push(np.zeros(3 * sr, np.float32), sr) == [] and t.end() == [] and t.segments() == []   # silence: nothing to say
    t = model.track(); t.push(x[:100], sr)
    assert t.end() == []                                                # under one STFT window: no decision, no error
    with pytest.raises(RuntimeError, match="the stream has ended"): t.push(x[:10], sr)
    t = model.track()
    with pytest.raises(AudioError, match="expected a mono 1-D waveform"): t.push(np.zeros((2, 160), np.float32), sr)
    t.push(x[:1600], sr)
    with pytest.raises(AudioError, match="a chunk at 22050 Hz needs reset"): t.push(x[:1600], 22050)
    with pytest.raises(ValueError, match="confirm must be >= 1"): model.track(confirm=0)


class Trickle(io.RawIOBase):
    "A pipe that hands out at most `n` bytes per read (sample frames split across reads)."
    def __init__(self, data, n): self.data, self.n = data, n
    def readable(self): return True
    def read1(self, size=-1):
        out, self.data = self.data[:min(self.n, size)], self.data[min(self.n, size):]
        return out


def test_pcm_chunks_reassemble_split_frames_and_mix_channels():
    x = (np.sin(np.arange(5000) / 7) * 12000).astype("<i2")
    got = np.concatenate(list(pcm_chunks(Trickle(x.tobytes(), 333), chunk=400)))       # odd reads: frames split
    np.testing.assert_allclose(got, x / 32768, atol=1e-7)
    f = np.stack([x / 32768, -x / 32768], 1).astype("<f4")                              # f32le stereo: mixed to mono (0)
    got = np.concatenate(list(pcm_chunks(Trickle(f.tobytes(), 1001), fmt="f32le", channels=2)))
    assert len(got) == 5000 and np.abs(got).max() < 1e-6
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        list(pcm_chunks(io.BytesIO(x.tobytes()[:-1])))
    assert "1 byte(s) dropped" in str(w[0].message)
    with pytest.raises(AudioError, match="unknown PCM format"): list(pcm_chunks(io.BytesIO(b""), fmt="s24le"))


def test_sse_listen_on_stdin_prints_the_speaker_changes(sse, conv, tmp_path):
    x, sr = conv
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    r = sse("listen", "-", "--rate", sr, "--stats", "--rttm", tmp_path / "out.rttm", input=pcm)
    assert r.returncode == 0, r.stderr
    lines = [l.split("\t") for l in r.stdout.splitlines()]
    assert all(len(l) in (4, 5) for l in lines) and all(float(l[0]) < float(l[1]) for l in lines)
    assert runs([l[2] for l in lines]) == runs([s for *_, s in REF])      # the reference's eight turns, in order
    assert [l[2] for l in lines if len(l) == 5 and l[4] == "new"] == ["spk0", "spk1", "spk2"]
    assert "3 speakers (spk0, spk1, spk2)" in r.stderr and "real-time factor" in r.stderr
    assert der(REF, read_rttm(tmp_path / "out.rttm"))["der"] < 0.07


def test_sse_listen_names_enrolled_people_in_a_file(sse):
    r = sse("listen", CONV, "--enrol", f"ann={ENROL['ann']}", "--enrol", f"bob={ENROL['bob']}", "--only-enrolled")
    assert r.returncode == 0, r.stderr
    assert {l.split("\t")[2] for l in r.stdout.splitlines()} == {"ann", "bob", "unknown"}


@pytest.mark.parametrize("args,msg,code", [
    (["listen", "-"], "needs its sample rate: add --rate", 1),
    (["listen", str(CONV), "--rate", "16000"], "--rate is for raw PCM on stdin", 2),
    (["listen", "-", "--rate", "16000", "--only-enrolled"], "--only-enrolled needs --enrol", 1),
    (["listen", "-", "--rate", "16000", "--enrol", "ann"], "expected NAME=FILE", 2),
    (["listen", "no/such.wav"], "audio file not found: no/such.wav", 1),
    (["listen", "-", "--rate", "16000", "--format", "s24le"], "invalid choice: 's24le'", 2),
])
def test_sse_listen_bad_input_fails_in_one_line(sse, args, msg, code):
    r = sse(*args, input=b"")
    assert r.returncode == code and msg in r.stderr.strip().splitlines()[-1], r.stderr   # the error: one line
                                                                                         # (after argparse's usage)
    assert "Traceback" not in r.stderr and (code == 2 or len(r.stderr.strip().splitlines()) == 1)


def test_inference_paths_never_import_fastai():
    "Embedding, verifying, streaming and tracking run without the training stack (a fresh interpreter, as `sse listen` runs)."
    import subprocess
    import sys
    code = ("import sys, numpy as np\nfrom simple_speaker_embedding import gru_embedder\nm = gru_embedder()\n"
            "x = (np.sin(np.arange(44100) / 9) * 0.3).astype(np.float32)\nm.embed_utterance(x); m.verify(x, x)\n"
            "st = m.stream(); st.push(x); st.end()\nt = m.track(); t.push(x); t.end()\n"
            "print(sorted({k.split('.')[0] for k in sys.modules} & {'fastai', 'fastprogress'}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout


def test_sse_listen_flags_change_the_output_as_they_say(sse, conv, tmp_path):
    "--threshold (a low bar keeps every window with the first voice), --channels (a stereo copy = the mono stream), "
    "--rttm names the recording: the file's stem, or stdin."
    base = sse("listen", CONV, "--rttm", tmp_path / "a.rttm")
    assert base.returncode == 0 and len({l.split("\t")[2] for l in base.stdout.splitlines()}) == 3
    low = sse("listen", CONV, "--threshold", "-100")
    assert {l.split("\t")[2] for l in low.stdout.splitlines()} == {"spk0"}
    assert {l.split()[1] for l in (tmp_path / "a.rttm").read_text().splitlines()} == {CONV.stem}
    x, sr = conv
    mono = (np.clip(x, -1, 1) * 32767).astype("<i2")
    a = sse("listen", "-", "--rate", sr, "--rttm", tmp_path / "b.rttm", input=mono.tobytes())
    b = sse("listen", "-", "--rate", sr, "--channels", "2", input=np.repeat(mono, 2).tobytes())
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout
    assert {l.split()[1] for l in (tmp_path / "b.rttm").read_text().splitlines()} == {"stdin"}


def test_enrolling_mid_stream_keeps_the_names_of_the_speakers_found_so_far():
    "Speakers found before an enrolment keep their names on every window decided so far (and in the segments made of them)."
    t = SpeakerTracker(GRUEmbedder(hidden=32, layers=1), threshold=0.5, confirm=1)
    rng = np.random.default_rng(0)
    a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 512)))
    for i, v in enumerate([a, a, b, b]): t._decide(10 * i, 10 * i + 10, v)
    t._flush()
    named = lambda: [t.names[j] for *_, j in t.decided]
    before = named()
    assert before == ["spk0", "spk0", "spk1", "spk1"]
    t.enrol("zed", ENROL["ann"])                                        # a person enrolled now comes first in the tracker's list
    assert named() == before and t.speakers[0] == "zed"


def test_the_last_window_is_flush_with_the_end_of_the_stream():
    "At every stream length over one hop: a length that is not a whole number of hops past the first window gets one more "
    "window ending at its last frame (the offline `window_starts` policy); one that is gets none. Expected starts by hand."
    t = SpeakerTracker(GRUEmbedder(hidden=8, layers=1), vad="energy", threshold=-1.0, confirm=1)
    hop, w, step = t.model.mel_hparams.hop_length, t.win, t.step
    x = np.random.default_rng(0).normal(0, 0.1, (3 * w + step) * hop).astype(np.float32)
    for n in range(2 * w, 2 * w + step + 1):                     # every residue of (n - w) modulo the hop
        t.reset()
        out = t.push(x[:(n - 1) * hop], 22050) + t.end()         # (n - 1) hops of samples: n frames, all voiced
        starts = sorted({round(d.start * t.fps) for d in out})
        regular = list(range(0, n - w + 1, step))
        assert starts == regular + ([n - w] if (n - w) % step else []), (starts, n, w, step)


def test_sse_listen_reports_what_it_heard_and_keeps_the_clock(sse):
    "One fixture clip with --realtime --stats: the run takes at least the clip's length (soundfile's count), the summary "
    "says the clip's seconds and '1 speaker', and the work per chunk is a plausible number of milliseconds."
    import re
    import time

    import soundfile as sf
    clip = ENROL["ann"]
    seconds = sf.info(str(clip)).frames / sf.info(str(clip)).samplerate
    t0 = time.monotonic()
    r = sse("listen", clip, "--realtime", "--stats", "--vad", "energy")
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert took >= seconds - 0.2, (took, seconds)                         # paced by the clock, not as fast as it can
    assert re.search(rf"^{seconds:.1f} s of audio, \d+ decisions, 1 speaker \(spk0\)$", r.stderr, re.M), r.stderr
    med = float(re.search(r"work per chunk median ([\d.]+) ms", r.stderr).group(1))
    rtf = float(re.search(r"real-time factor ([\d.]+)", r.stderr).group(1))
    assert 0 < med < 100 * 1000 and 0 < rtf < 5, r.stderr                  # milliseconds of work per 0.1-s
                                                                           # chunk, not clock readings
