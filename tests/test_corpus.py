"""Corpora as they come: LibriSpeech, VoxCeleb, VCTK and Common Voice layouts built from the fixtures; speakers keyed by
dataset."""
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def clips(fixture_root):
    "Two speakers' clips: {speaker folder: [4 paths]}."
    spk = sorted(p for p in (fixture_root / "cv_en").iterdir() if p.is_dir())[:2]
    return {s.name: sorted(s.glob("*.ogg")) for s in spk}


def _put(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True); shutil.copy(src, dst)


def test_librispeech_chapters_are_sessions_of_one_speaker(sse, clips, tmp_path):
    (a, fa), (b, fb) = clips.items()
    root = tmp_path / "train-clean-100"
    for i, f in enumerate(fa): _put(f, root / "19" / ("198" if i < 2 else "227") / f"19-{i}.ogg")
    for i, f in enumerate(fb): _put(f, root / "26" / "495" / f"26-{i}.ogg")
    r = sse("preprocess", root, tmp_path / "mels", "--layout", "librispeech", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "8 mels of 2 speakers" in r.stdout
    man = pd.read_csv(tmp_path / "mels" / "manifest.csv", dtype=str)
    assert list(man.columns[:6]) == ["key", "dataset", "speaker", "session", "speed", "frames"]
    assert set(man.dataset) == {"train-clean-100"}
    assert man[man.speaker == "19"].session.tolist().count("198") == 2 and set(man[man.speaker == "19"].session) == {"198", "227"}
    # given the corpus root with the default layout it is refused in one line naming the layout that fits
    r = sse("preprocess", root, tmp_path / "m2", "--layout", "speaker")
    err = [l for l in r.stderr.splitlines() if l.startswith("sse preprocess: error:")]
    assert (r.returncode == 1 and len(err) == 1
            # names like 19-0: no corpus shows
            and "--layout dataset-speaker or librispeech or voxceleb fits it" in err[0]), r.stderr
    assert "Traceback" not in r.stderr
    # sse eval with the layout: a speaker's two chapters are one speaker (target trials across chapters)
    from simple_speaker_embedding.corpus import list_utterances
    from simple_speaker_embedding.metrics import make_trials
    t = make_trials(list_utterances(root, layout="librispeech"))
    assert set(t.spk1) | set(t.spk2) == {"train-clean-100/19", "train-clean-100/26"} and t.label.sum() == 6 + 6
    r = sse("eval", root, "--layout", "librispeech", "--model", "untrained", "--bootstrap", "0")
    assert r.returncode == 0 and "target trials      12" in r.stdout, r.stdout + r.stderr
    r = sse("embed", root, "--speaker", "--layout", "librispeech", "--model", "untrained", "--out", tmp_path / "spk")
    assert r.returncode == 0, r.stderr
    idx = pd.read_csv(tmp_path / "spk.csv", dtype=str)
    assert sorted(idx.speaker) == ["train-clean-100/19", "train-clean-100/26"] and sorted(idx.n_files) == ["4", "4"]


def test_voxceleb_vctk_commonvoice(clips, tmp_path):
    from simple_speaker_embedding.store import preprocess
    (a, fa), (b, fb) = clips.items()
    vox = tmp_path / "vox1" / "wav"
    for i, f in enumerate(fa + fb): _put(f, vox / ("id10001" if i < 4 else "id10002") / f"vid{i % 2}" / f"{i // 2 % 2:05d}.ogg")
    man = preprocess(vox, tmp_path / "mv", layout="voxceleb", dataset="voxceleb1", n_workers=1, progress=False)
    assert len(man) == 8 and set(man.speaker) == {"id10001", "id10002"} and set(man.session) == {"vid0", "vid1"}
    assert man.key.nunique() == 8                  # 00000.ogg of two videos are two mels (sessions in the path)
    vctk = tmp_path / "wav48_silence_trimmed"
    for i, f in enumerate(fa): _put(f, vctk / "p225" / f"p225_{i:03d}_mic1.ogg"); _put(f,
                                                                                       vctk / "p225" / f"p225_{i:03d}_mic2.ogg")
    for i, f in enumerate(fb): _put(f, vctk / "p226" / f"p226_{i:03d}_mic1.ogg")
    man = preprocess(vctk, tmp_path / "mk", layout="vctk", n_workers=1, progress=False, speeds=(1.0, 1.1))
    assert len(man) == 16 and set(man.speaker) == {"p225", "p226", "p225_sp1.1", "p226_sp1.1"}   # mic2 copies left out
    assert sorted(set(man.speed)) == [1.0, 1.1]
    cv = tmp_path / "cv-corpus" / "en"
    rows = []
    for k, (s, fs) in enumerate(clips.items()):
        for i, f in enumerate(fs):
            _put(f, cv / "clips" / f"common_voice_en_{k}{i}.mp3.ogg")
            rows.append((f"client{k}", f"common_voice_en_{k}{i}.mp3.ogg"))
    pd.DataFrame(rows, columns=["client_id", "path"]).assign(sentence="x").to_csv(cv / "validated.tsv", sep="\t", index=False)
    man = preprocess(cv, tmp_path / "mc", layout="commonvoice", dataset="cv_en", n_workers=1, progress=False)
    assert len(man) == 8 and sorted(man.groupby("speaker").size()) == [4, 4] and set(man.dataset) == {"cv_en"}
    with pytest.raises(ValueError, match="commonvoice"):
        preprocess(cv, tmp_path / "mx", n_workers=1, progress=False)   # the default layout: one line naming the fit


def test_same_folder_name_in_two_datasets_stays_two_speakers(clips, tmp_path):
    from simple_speaker_embedding.corpus import list_utterances
    from simple_speaker_embedding.data import speaker_dataloaders
    from simple_speaker_embedding.store import preprocess
    (a, fa), (b, fb) = clips.items()
    root = tmp_path / "src"
    for i, f in enumerate(fa): _put(f, root / "LibriSpeech" / "19" / f"a{i}.ogg")
    for i, f in enumerate(fb): _put(f, root / "other" / "19" / f"b{i}.ogg")
    for s, fs in list(clips.items()):
        for i, f in enumerate(fs): _put(f, root / "third" / s / f"c{i}.ogg")
    man = preprocess(root, tmp_path / "mels", n_workers=1, progress=False)
    assert man.groupby(["dataset", "speaker"]).ngroups == 4
    dls = speaker_dataloaders(tmp_path / "mels", n_speakers=2, n_utterances=2, crop=(20, 30), progress=False, device="cpu",
                              valid_speakers=[f"third/{a}", f"third/{b}"])
    assert list(dls.train.speaker_names) == ["LibriSpeech/19", "other/19"]
    x, y = next(iter(dls.train))
    assert len(np.unique(y.numpy())) == 2                         # the two "19"s are two classes in one batch
    spk = set(list_utterances(root).speaker)
    assert {"LibriSpeech/19", "other/19"} <= spk


def test_m4a_without_pyav_fails_in_one_line(tmp_path, monkeypatch):
    import builtins

    from simple_speaker_embedding.audio import AudioError, load_audio
    real = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda n, *a,
                        **k: (_ for _ in ()).throw(ImportError(n)) if n == "av" else real(n, *a, **k))
    p = tmp_path / "00001.m4a"; p.write_bytes(b"\0" * 64)
    with pytest.raises(AudioError, match="PyAV: pip install av"):
        load_audio(p)


def test_m4a_decodes_through_pyav(fixture_files, tmp_path):
    "VoxCeleb2's .m4a (AAC): a stereo AAC copy of a fixture clip embeds like the original (PyAV is in the dev extra)."
    av = pytest.importorskip("av", reason="PyAV is the optional m4a extra (in the dev extra, so CI runs this)")
    from simple_speaker_embedding import gru_embedder, load_audio
    x, sr = load_audio(fixture_files[0], sr=None)
    p = tmp_path / "00001.m4a"
    with av.open(str(p), "w") as c:
        s = c.add_stream("aac", rate=sr); s.layout = "stereo"
        f = av.AudioFrame.from_ndarray(np.stack([x, x]).astype(np.float32), format="fltp", layout="stereo"); f.sample_rate = sr
        for pk in [*s.encode(f), *s.encode(None)]: c.mux(pk)
    y, r = load_audio(p, sr=None)
    assert r == sr and y.dtype == np.float32 and abs(len(y) - len(x)) < 4096    # AAC adds priming and padding
    m = gru_embedder()
    assert float(m.embed_utterance(p) @ m.embed_utterance(fixture_files[0])) > 0.95


def test_librispeech_subsets_joined_by_links(clips, tmp_path):
    "The README's LibriSpeech 960 h recipe: one folder of links to the speakers of several subsets is one corpus."
    from simple_speaker_embedding.corpus import corpus_files
    (a, fa), (b, fb) = clips.items()
    for i, f in enumerate(fa): _put(f, tmp_path / "LibriSpeech" / "train-clean-100" / "19" / "198" / f"19-198-{i}.ogg")
    for i, f in enumerate(fb): _put(f, tmp_path / "LibriSpeech" / "train-other-500" / "26" / "495" / f"26-495-{i}.ogg")
    r = subprocess.run('mkdir ls960 && ln -s "$PWD"/LibriSpeech/train-*/* ls960/', shell=True, cwd=tmp_path)
    assert r.returncode == 0
    files = corpus_files(tmp_path / "ls960", "librispeech", "librispeech")
    assert sorted(set(files.speaker)) == ["19", "26"] and len(files) == 8 and set(files.dataset) == {"librispeech"}


def test_a_tree_of_mixed_depths_is_refused_in_one_line(sse, clips, tmp_path):
    "Files at two depths would be read half wrong (a folder taken for a speaker): every reader refuses, in one line."
    from simple_speaker_embedding.corpus import corpus_files, list_utterances
    a, b = list(clips)
    src = tmp_path / "src"
    for p in clips[a]: _put(p, src / "ds" / a / p.name)                  # <dataset>/<speaker>/<utt>
    for p in clips[b]: _put(p, src / "ds" / b / "chapter1" / p.name)     # one level deeper
    for layout in ("dataset-speaker", "librispeech"):
        with pytest.raises(ValueError, match=f"--layout {layout} expects"): corpus_files(src, layout)
    with pytest.raises(ValueError, match=r"found files at depths \[3, 4\]"): list_utterances(src)
    for args in (["preprocess", src, tmp_path / "mels"], ["eval", src, "--bootstrap", "0"]):
        r = sse(*args)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "expect" in r.stderr, (args, r.stderr)


@pytest.fixture
def lookalikes(clips, tmp_path):
    "A LibriSpeech-shaped tree (one speaker with two chapters) and a VoxCeleb-shaped one (one speaker, two videos)."
    (a, fa), (b, fb) = clips.items()
    ls, vox = tmp_path / "test-other", tmp_path / "vox"
    for i, f in enumerate(fa): _put(f, ls / "19" / ("198" if i < 2 else "227") / f"19-{198 if i < 2 else 227}-{i:04d}.ogg")
    for i, f in enumerate(fb): _put(f, ls / "26" / "495" / f"26-495-{i:04d}.ogg")
    for i, f in enumerate(fa): _put(f, vox / "id00012" / ("21Uxsk56VDQ" if i < 2 else "2DLq_Kkc1r8") / f"{i:05d}.ogg")
    for i, f in enumerate(fb): _put(f, vox / "id00019" / "a3Uxsk5wVQ" / f"{i:05d}.ogg")
    return ls, vox


@pytest.mark.parametrize("which", ["librispeech", "voxceleb"])
def test_a_corpus_tree_without_its_layout_is_refused_never_relabelled(sse, lookalikes, tmp_path, which):
    """Read by depth, chapters or videos would become speakers: preprocess,
    eval, embed --speaker and calibrate refuse in one line naming the layout."""
    root = lookalikes[0] if which == "librispeech" else lookalikes[1]
    runs = {"preprocess": ["preprocess", root, tmp_path / "mels", "--workers", "1"],
            "eval": ["eval", root, "--model", "untrained", "--bootstrap", "0"],
            "embed": ["embed", root, "--speaker", "--model", "untrained", "--out", tmp_path / "spk"],
            "calibrate": ["calibrate", root, "--model", "untrained", "--out", tmp_path / "cal.pt"]}
    mine = ("preprocess", "embed") if which == "librispeech" else ("eval", "calibrate")   # each command refuses one of the two
    for cmd, args in ((c, a) for c, a in runs.items() if c in mine):
        r = sse(*args)
        lines = r.stderr.strip().splitlines()
        assert (r.returncode == 1 and len(lines) == 1 and f"looks like a {which} tree" in lines[0]
                and f"pass --layout {which}" in lines[0]), (cmd, r.stderr)
    assert (not (tmp_path / "mels" / "manifest.csv").exists() and not (tmp_path / "spk.npy").exists()
            and not (tmp_path / "cal.pt").exists())
    r = sse("eval", root, "--layout", which, "--model", "untrained", "--bootstrap", "0")   # with it: one speaker,
                                                                                           # across chapters/videos
    assert r.returncode == 0 and re.search(r"^target trials\s+12$", r.stdout, re.M), r.stdout + r.stderr
    r = sse("embed", root, "--speaker", "--layout", which, "--model", "untrained", "--out", tmp_path / "spk")
    assert r.returncode == 0 and len(pd.read_csv(tmp_path / "spk.csv")) == 2


def test_librispeech_names_that_contradict_their_folders_are_refused(sse, lookalikes, tmp_path):
    ls, _ = lookalikes
    next((ls / "26" / "495").iterdir()).rename(ls / "26" / "495" / "19-198-0099.ogg")      # a file moved from speaker 19
    r = sse("preprocess", ls, tmp_path / "mels", "--layout", "librispeech", "--workers", "1")
    assert r.returncode == 1 and "26/495/19-198-0099.ogg is named for speaker 19, chapter 198" in r.stderr, r.stderr
