"The mel store across several shards: every row reads back its own clip's frames, through every reading path."
import multiprocessing as mp
import warnings

import numpy as np
import pytest
import torch

from simple_speaker_embedding.audio import MelHParams, TacotronMel, load_audio, trim_silence
from simple_speaker_embedding.data import SpeakerBatchDL
from simple_speaker_embedding.distill import load_targets
from simple_speaker_embedding.store import MelStore, load_manifest, pack_mels, preprocess


def own_mels(source) -> np.ndarray:
    "A clip's log-mels computed directly, as the store holds them (trimmed, float16)."
    hp = MelHParams()
    x, _ = load_audio(source, sr=hp.sampling_rate)
    return TacotronMel(hp)(torch.from_numpy(trim_silence(x))[None])[0].numpy().astype(np.float16)


@pytest.fixture(scope="module")
def store(fixture_root, tmp_path_factory):
    "The fixtures in a store of several shards (5 files each), with each row's own mels."
    dst = tmp_path_factory.mktemp("shards")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preprocess(fixture_root, dst, n_workers=2, progress=False, files_per_shard=5)
    man = load_manifest(dst)
    assert man.shard.nunique() == 5 and (man.offset > 0).any()        # rows start inside later shards
    return dst, man, [own_mels(s) for s in man.source]


def _crops_in_worker(args):
    store, rows, starts, T = args
    return store.crops(rows, starts, T)


def test_every_row_reads_its_own_frames_on_disk_in_workers_and_in_memory(store):
    dst, man, own = store
    s = MelStore(man)
    for r, m in enumerate(own):
        np.testing.assert_array_equal(s.crops(np.array([r]), np.array([0]), len(m))[0], m)
    with mp.get_context("fork").Pool(2) as pool:                    # a fresh process opens its own memory maps
        got = pool.map(_crops_in_worker, [(s, np.array([r]), np.array([0]), len(m)) for r, m in enumerate(own)])
    for g, m in zip(got, own): np.testing.assert_array_equal(g[0], m)
    labels = np.arange(len(man)) % 6
    for in_memory in (True, False):                                    # the DataLoader's own batch reader, both paths
        dl = SpeakerBatchDL(np.arange(len(man)), store=MelStore(man), labels=labels, n_speakers=2, n_utterances=2,
                            in_memory=in_memory, num_workers=0)
        for r, m in enumerate(own):
            xb, yb = dl.create_batch([(r, 0, len(m))])
            np.testing.assert_array_equal(xb[0].numpy(), m, err_msg=f"row {r}, in_memory={in_memory}")
            assert yb.tolist() == [labels[r]]


def test_a_crop_longer_than_its_clip_wraps_inside_that_clip(store):
    dst, man, own = store
    s = MelStore(man)
    rows = [r for r in range(len(man) - 1) if man.shard[r] == man.shard[r + 1] and man.offset[r] > 0]   # a next clip follows
    for r in rows[:4]:
        L = len(own[r]); T = L + 37
        want = own[r][(3 + np.arange(T)) % L]
        np.testing.assert_array_equal(s.crops(np.array([r]), np.array([3]), T)[0], want)
        dl = SpeakerBatchDL(np.arange(len(man)), store=s, labels=np.arange(len(man)) % 6, n_speakers=2, n_utterances=2,
                            in_memory=True, num_workers=0)
        np.testing.assert_array_equal(dl.create_batch([(r, 3, T)])[0][0].numpy(), want)


def test_packing_an_old_per_clip_folder_reads_back_each_clip(store, tmp_path):
    dst, man, own = store
    old = tmp_path / "old"
    for r in man.itertuples():
        p = old / (r.key + ".npy"); p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, own[r.Index])
    man.assign(path=[k + ".npy" for k in man.key])[["path", "dataset", "speaker", "frames",
                                                    "source"]].to_csv(old / "manifest.csv", index=False)
    targets = np.random.default_rng(0).standard_normal((len(man), 5)).astype(np.float32)   # an old teacher's, per clip
    for r in man.itertuples():
        p = old / "teacher_x" / (r.key + ".npy"); p.parent.mkdir(parents=True, exist_ok=True)
        np.save(p, targets[r.Index])
    packed = pack_mels(old, files_per_shard=7, n_workers=1, progress=False)
    assert packed.shard.nunique() == 4 and list(packed.key) == list(man.key)
    s = MelStore(load_manifest(old))
    for r, m in enumerate(own):
        np.testing.assert_array_equal(s.crops(np.array([r]), np.array([0]), len(m))[0], m)
    got = load_targets(load_manifest(old), old, "x", center=False)[np.arange(len(man))]      # came along, row by row
    np.testing.assert_allclose(got, targets / np.linalg.norm(targets, axis=1, keepdims=True), rtol=1e-6)


def test_rerunning_a_finished_preprocess_says_there_was_nothing_to_do(sse, fixture_root, tmp_path):
    args = ("preprocess", str(fixture_root), str(tmp_path / "mels"), "--workers", "1", "--files-per-shard", "8")
    first, again = sse(*args), sse(*args)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert "nothing left to do" not in first.stdout and "24 mels of 6 speakers" in first.stdout
    assert (again.stdout.startswith("nothing left to do: every shard was already finished")
            and "24 mels of 6 speakers" in again.stdout)
    (tmp_path / "mels" / "shards" / "part-00001.json").unlink()                # one shard unfinished
    r = sse(*args)
    assert "2 of 3 shards were already finished (kept); 1 computed now" in r.stdout, r.stdout


def test_preprocess_trims_silence(fixture_files, tmp_path):
    "Mels written by preprocess have exactly the frames of the trimmed audio (the embed helpers trim too)."
    import shutil
    import warnings

    import soundfile as sf

    from simple_speaker_embedding.audio import TacotronMel, load_audio, trim_silence
    from simple_speaker_embedding.store import preprocess
    x, sr = load_audio(fixture_files[0])
    padded = np.concatenate([np.zeros(sr, np.float32), x, np.zeros(2 * sr, np.float32)])
    d = tmp_path / "src" / "ds" / "spk"; d.mkdir(parents=True)
    sf.write(d / "a.wav", padded, sr); shutil.copy(fixture_files[1], d / "b.ogg")
    (tmp_path / "src" / "ds" / "spk2").mkdir(); shutil.copy(fixture_files[2], tmp_path / "src" / "ds" / "spk2" / "c.ogg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); man = preprocess(tmp_path / "src", tmp_path / "mels", n_workers=1, progress=False)
    frames = int(man[man.source.str.endswith("a.wav")].frames.iloc[0])
    assert frames == TacotronMel().n_frames(len(trim_silence(load_audio(d / "a.wav")[0])))
    assert frames < TacotronMel().n_frames(len(padded)) - 200          # 3 s of silence (258 frames) are gone
