"Preprocessing (parallel, resumable, atomic, reported failures) and the N x M speaker-batched DataLoaders."
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from simple_speaker_embedding.config import TrainConfig
from simple_speaker_embedding.data import held_out_speakers, speaker_dataloaders, split_by_speaker
from simple_speaker_embedding.degrade import Augment
from simple_speaker_embedding.store import base_speaker, load_manifest, preprocess


@pytest.fixture(scope="module")
def mels(fixture_root, tmp_path_factory):
    dst = tmp_path_factory.mktemp("mels")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preprocess(fixture_root, dst, speeds=(1.0, 1.1), n_workers=2, progress=False)
    return dst


def test_manifest_and_shards(mels):
    man = load_manifest(mels)
    assert len(man) == 48 and man.speaker.nunique() == 12 and set(man.dataset) == {"cv_en"}
    frames = np.load(man.shard[0], mmap_mode="r")
    assert frames.dtype == np.float16 and frames.shape == (man.frames.sum(), 80)      # one shard holds every clip
    assert (man.offset == man.frames.cumsum() - man.frames).all()                      # back to back, in manifest order
    sped = man[man.speaker.str.endswith("_sp1.1")]
    assert len(sped) == 24 and sped.frames.sum() < man[~man.speaker.str.endswith("_sp1.1")].frames.sum()
    assert base_speaker("cv_abc_sp0.9") == "cv_abc" and base_speaker("cv_abc") == "cv_abc"


def test_bad_files_are_reported_not_fatal(fixture_root, tmp_path, capsys):
    src = tmp_path / "src"
    shutil.copytree(fixture_root, src)
    spk = next((src / "cv_en").iterdir())
    (spk / "corrupt.ogg").write_bytes(b"OggS garbage")
    (spk / "empty.wav").write_bytes(b"")
    import soundfile as sf
    sf.write(spk / "silent.wav", np.zeros(16000, np.float32), 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # a plain line on stderr, not a Python warning
        man = preprocess(src, tmp_path / "out", n_workers=2, progress=False)
    assert capsys.readouterr().err == f"3 of 27 files skipped; reasons in {tmp_path / 'out' / 'preprocess_report.csv'}\n"
    assert len(man) == 24
    rep = pd.read_csv(tmp_path / "out" / "preprocess_report.csv")
    reasons = dict(zip(rep.source.map(lambda s: s.rsplit("/", 1)[-1]), rep.reason))
    assert set(reasons) == {"corrupt.ogg", "empty.wav", "silent.wav"}
    assert "silent" in reasons["silent.wav"] and "empty" in reasons["empty.wav"]


def test_resumable_and_atomic(fixture_root, tmp_path):
    dst = tmp_path / "mels"
    first = preprocess(fixture_root, dst, n_workers=1, progress=False, files_per_shard=8)
    shards = sorted((dst / "shards").glob("part-*.npy"))
    assert len(shards) == 3 and first.shard.nunique() == 3
    victim = shards[1]
    victim.with_suffix(".json").unlink()                       # killed after its frames, before its index: unfinished
    (victim.parent / (victim.name + ".12345.tmp")).write_bytes(b"half")   # a leftover from a killed writer
    mtimes = {p: p.stat().st_mtime_ns for p in shards if p != victim}
    again = preprocess(fixture_root, dst, n_workers=2, progress=False, files_per_shard=8)
    assert victim.with_suffix(".json").exists() and len(again) == len(first)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())   # finished shards were skipped
    pd.testing.assert_frame_equal(again, first)
    # a different plan (another speed) rebuilds every shard; a smaller corpus removes the shards it no longer needs
    assert len(preprocess(fixture_root, dst, speeds=(1.0, 1.1), n_workers=2, progress=False, files_per_shard=8)) == 48
    preprocess(fixture_root, dst, n_workers=1, progress=False, files_per_shard=12)
    assert sorted(p.name for p in (dst / "shards").iterdir()) == ["part-00000.json", "part-00000.npy",
                                                                  "part-00001.json", "part-00001.npy"]


def test_preprocess_input_errors(tmp_path, fixture_root):
    with pytest.raises(FileNotFoundError):
        preprocess(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match="dataset"):
        preprocess(fixture_root / "cv_en", tmp_path / "out")    # one level too deep


def test_every_batch_is_n_speakers_by_m_utterances(mels):
    dls = speaker_dataloaders(mels, n_speakers=4, n_utterances=3, crop=(30, 50), rounds=3, valid_pct=0.34, progress=False)
    seen = {}
    for xb, yb in dls.train:
        assert xb.shape[0] == 12 and 30 <= xb.shape[1] <= 50 and xb.shape[2] == 80 and xb.dtype == torch.float32
        grid = yb.view(4, 3)
        assert (grid == grid[:, :1]).all() and grid[:, 0].unique().numel() == 4
        for s in grid[:, 0].tolist(): seen[s] = seen.get(s, 0) + 1
    n_train = len(dls.train.speaker_names)
    assert len(seen) == n_train and min(seen.values()) >= 3     # every speaker, `rounds` times
    # validation speakers are held out together with their pseudo-speakers
    train_base = {base_speaker(s) for s in dls.train.speaker_names}
    valid_base = {base_speaker(s) for s in dls.valid.speaker_names}
    assert train_base.isdisjoint(valid_base) and len(valid_base) == 2


def test_speakers_with_few_utterances_are_sampled_with_replacement(mels):
    dls = speaker_dataloaders(mels, n_speakers=2, n_utterances=6, crop=(20, 20), valid_pct=0.34, progress=False)
    xb, yb = next(iter(dls.train))                       # 4 utterances per speaker < M = 6
    assert xb.shape == (12, 20, 80)


def test_epochs_are_reproducible_and_differ(mels):
    dls = speaker_dataloaders(mels, n_speakers=4, n_utterances=2, valid_pct=0.34, augment=Augment(), progress=False)
    a = [(x.clone(), y.clone()) for x, y in dls.train]
    b = [(x.clone(), y.clone()) for x, y in dls.train]
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))
    dls.train.set_epoch(1)
    c = [y for _, y in dls.train]
    assert any(not torch.equal(y1, y3) for (_, y1), y3 in zip(a, c))


def test_ddp_shards_are_disjoint(mels):
    kw = dict(n_speakers=2, n_utterances=2, valid_pct=0.34, progress=False, world=2)
    r0 = speaker_dataloaders(mels, rank=0, **kw).train
    r1 = speaker_dataloaders(mels, rank=1, **kw).train
    assert len(r0) == len(r1) > 0
    s0 = {tuple(y.view(2, 2)[:, 0].tolist()) for _, y in r0}
    s1 = {tuple(y.view(2, 2)[:, 0].tolist()) for _, y in r1}
    assert s0.isdisjoint(s1)


def test_augmentations_switch_individually():
    g = lambda: torch.Generator().manual_seed(0)
    x = torch.randn(3, 50, 80) - 4
    off = Augment(gain_db=0, noise_snr=None, freq_mask=0, time_mask=0)
    torch.testing.assert_close(off(x.clone(), g()), x.clamp(min=-11.52))
    gain = Augment(noise_snr=None, freq_mask=0, time_mask=0)(x.clone(), g())
    d = gain - x
    assert torch.allclose(d, d[:, :1, :1].expand_as(d), atol=1e-5) and d.abs().max() > 0   # one offset per utterance
    noisy = Augment(gain_db=0, noise_p=1.0, freq_mask=0, time_mask=0)(x.clone(), g())
    assert (noisy >= x - 1e-5).all() and (noisy > x + 1e-3).any()                      # noise only adds energy
    masked = Augment(gain_db=0, noise_snr=None, time_mask=0, freq_mask=10)(x.clone(), g())
    assert (masked != x).any(dim=1).sum() <= 3 * 10


def test_split_by_speaker_explicit():
    man = pd.DataFrame(dict(speaker=["a", "a_sp0.9", "b", "c", "c_sp1.1"], path=list("vwxyz")))
    tr, va = split_by_speaker(man, valid_speakers=["c"])
    assert va == [3, 4] and tr == [0, 1, 2]


def test_held_out_speakers_come_from_every_dataset_and_not_the_run_seed():
    "Validation speakers: `valid_pct` of each dataset (one at least where it has four or more, none from a smaller "
    "one), the same whatever the run's seed, with their pseudo-speakers; a run's `valid_seed` draws them."
    sizes = dict(big=200, mid=12, small=4, tiny=3)
    rows = [(d, f"{d}{i}{sp}") for d, n in sizes.items() for i in range(n) for sp in ("", "_sp1.1")]
    man = pd.DataFrame(rows, columns=["dataset", "speaker"])
    held = held_out_speakers(man, 0.05, seed=0)
    by = pd.Series([h.split("/")[0] for h in held]).value_counts().to_dict()
    assert by == dict(big=10, mid=1, small=1) and len(set(held)) == len(held)
    assert held_out_speakers(man, 0.05, seed=0) == held and held_out_speakers(man, 0.05, seed=1) != held
    tr, va = split_by_speaker(man, 0.05, seed=0)
    assert len(va) == 2 * len(held) and not set(tr) & set(va)              # each held-out speaker with its pseudo-speaker
    assert TrainConfig().valid_seed == 0                                    # runs of any --seed share their validation speakers


def test_label_free_clips_are_their_own_speakers(mels):
    "With clip_speakers, the views of a batch's label-free speaker are crops of one clip (at one speed); clips of one real "
    "speaker (other clips, other speeds) never share a label and never meet in a batch; validation keeps real speakers."
    man = load_manifest(mels)
    valid = [man.speaker[0]]
    dls = speaker_dataloaders(mels, n_speakers=4, n_utterances=3, crop=(20, 30), rounds=3, valid_speakers=valid,
                              clip_speakers=("cv_en",), progress=False, device="cpu", num_workers=0)
    trn = dls.train
    assert len(trn.speaker_names) == int((man.speaker.map(base_speaker) != valid[0]).sum())   # one label per clip and speed
    for epoch in range(3):
        trn.set_epoch(epoch)
        samples = trn.get_idxs()
        rows = trn.rows[np.array([i for i, _, _ in samples])].reshape(-1, 4, 3)
        starts = np.array([s for _, s, _ in samples]).reshape(-1, 4, 3)
        labels = trn.labels[torch.as_tensor([i for i, _, _ in samples])].view(-1, 4, 3)
        for b in range(len(rows)):
            assert (labels[b] == labels[b, :, :1]).all()                        # two (here three) views share a label
            assert all(len(set(rows[b, s])) == 1 for s in range(4))              # ... and are one clip at one speed
            keys = man.key.to_numpy()[rows[b, :, 0]]
            clients = [base_speaker(k.split("/")[1]) for k in keys]
            assert len(set(clients)) == 4, keys                                  # no real speaker twice in a batch
            assert len(set(labels[b, :, 0].tolist())) == 4                       # different clips: different labels
        assert (starts[:, :, 0] != starts[:, :, 1]).mean() > 0.5                # the views are different crops
    val_speakers = {trn.vocab[c] for c in dls.valid.labels.tolist()}
    assert val_speakers == {f"cv_en/{s}" for s in man.speaker[man.speaker.map(base_speaker) == valid[0]].unique()}
    x, y = next(iter(trn))
    # N*M crops of the asked lengths
    assert x.shape[0] == 12 and 20 <= x.shape[1] <= 30 and x.shape[2] == 80 and y.shape == (12,)
    with pytest.raises(ValueError, match="no rows of vctk"):
        speaker_dataloaders(mels, clip_speakers=("vctk",), progress=False, device="cpu")
    with pytest.raises(ValueError, match="needs as many different speakers"):
        speaker_dataloaders(mels, n_speakers=8, n_utterances=2, clip_speakers=("cv_en",), valid_speakers=valid,
                            progress=False, device="cpu")


def test_a_batch_never_repeats_a_clip_when_its_speaker_has_enough(mels):
    "Each speaker has 4 clips (per speed); with M = 4 every batch holds each of them once (drawn without replacement)."
    dls = speaker_dataloaders(mels, n_speakers=4, n_utterances=4, crop=(20, 20), rounds=4, valid_pct=0.34, progress=False)
    trn = dls.train
    assert all(len(p) == 4 for p in trn.by_speaker)
    for epoch in range(4):
        trn.set_epoch(epoch)
        pos = np.array([i for i, _, _ in trn.get_idxs()]).reshape(-1, 4, 4)      # batches x speakers x utterances
        for batch in pos:
            for spk in batch: assert len(set(spk.tolist())) == 4, spk


def _only(**on):
    base = dict(gain_db=0, noise_snr=None, freq_mask=0, time_mask=0)
    return Augment(**{**base, **on})


def test_frequency_mask_changes_one_band_and_nothing_else():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 50, 80) - 5
    y = _only(freq_mask=8)(x.clone(), g)
    changed = (y != x).any(1)                                     # (batch, channels) touched anywhere in time
    assert changed.any(), "the frequency mask did nothing"
    for xr, row, c in zip(x, y, changed):
        ch = torch.nonzero(c).flatten()
        if len(ch):
            assert len(ch) <= 8 and (ch == torch.arange(ch[0], ch[0] + len(ch))).all()   # one contiguous band
            assert torch.allclose(row[:, ch], xr.mean().expand_as(row[:, ch]), atol=1e-5)  # all frames: the clip mean


def test_time_mask_changes_one_stretch_and_nothing_else():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 60, 80) - 5
    y = _only(time_mask=20)(x.clone(), g)
    changed = (y != x).any(2)                                     # (batch, frames)
    assert changed.any(), "the time mask did nothing"
    for row, c in zip(y, changed):
        fr = torch.nonzero(c).flatten()
        if len(fr):
            assert len(fr) <= 20 and (fr == torch.arange(fr[0], fr[0] + len(fr))).all()
            assert torch.allclose(row[fr], row[fr][0, 0].expand_as(row[fr]))   # one constant (the clip mean)


def test_gain_shifts_log_mels_by_a_constant_per_clip():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 30, 80) - 5
    d = _only(gain_db=10)(x.clone(), g) - x
    assert d.abs().max() > 0.05 and d.abs().max() <= 10 * np.log(10) / 20 + 1e-5
    assert torch.allclose(d, d[:, :1, :1].expand_as(d), atol=1e-5)


def test_reverberation_share_follows_its_probability():
    x = torch.randn(2000, 40, 80) - 5
    y = _only(reverb_p=0.3)(x.clone(), torch.Generator().manual_seed(0))
    share = float((y - x).abs().amax((1, 2)).gt(1e-4).float().mean())
    assert share == pytest.approx(0.3, abs=0.04)


def test_no_speaker_twice_in_a_batch(fixture_root, tmp_path):
    "The last, incomplete group of speakers is filled with other speakers, never one already in it."
    import contextlib
    import io

    from simple_speaker_embedding.data import speaker_dataloaders
    from simple_speaker_embedding.store import preprocess
    with contextlib.redirect_stderr(io.StringIO()):
        preprocess(fixture_root, tmp_path, speeds=(1.0, 1.1), n_workers=0, progress=False)
    dl = speaker_dataloaders(tmp_path, n_speakers=5, n_utterances=2, valid_pct=0.2, progress=False, device="cpu").train
    for epoch in range(40):                                              # 10 training speakers, 5 per batch
        dl.set_epoch(epoch)
        lab = dl.labels[torch.as_tensor([i for i, _, _ in dl.get_idxs()])].view(-1, 5, 2)[:, :, 0]
        assert all(len(set(b.tolist())) == 5 for b in lab)
