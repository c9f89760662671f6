"Behaviours a mutation review found unguarded (issue 15): each test fails when its behaviour breaks."
import numpy as np
import pytest
import torch

from simple_speaker_embedding.data import Augment


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


def test_preprocess_trims_silence(fixture_files, tmp_path):
    "Mels written by preprocess have exactly the frames of the trimmed audio (the embed helpers trim too)."
    import soundfile as sf, shutil, warnings
    from simple_speaker_embedding.audio import load_audio, trim_silence, TacotronMel
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


def test_long_mels_are_cut_into_half_overlapping_windows():
    from simple_speaker_embedding.model import _windows
    mel = torch.arange(1000).float()[:, None].expand(1000, 80)
    w = _windows(mel, max_frames=860, window=430)
    assert [int(x[0, 0]) for x in w] == [0, 215, 430, 570]          # hop 215 (50%), the last flush with the end
    assert all(len(x) == 430 for x in w) and int(w[-1][-1, 0]) == 999
    assert len(_windows(mel[:860], 860, 430)) == 1                   # up to max_frames: one piece


def test_lengths_beyond_the_frames_are_refused(small_model):
    x = torch.randn(2, 40, 80) - 5
    with pytest.raises(ValueError):
        small_model(x, torch.tensor([40, 41]))
    with pytest.raises(ValueError):
        small_model(x, torch.tensor([0, 10]))


def test_hub_refuses_a_tampered_shipped_file(tmp_path, monkeypatch):
    "Not only load_checkpoint: the hub entry point itself must check the shipped file's sha256."
    from simple_speaker_embedding import hub
    fname, _ = hub.PRETRAINED["gru_embedder"]
    data = bytearray((hub.WEIGHTS_DIR / fname).read_bytes()); data[-100] ^= 0xFF
    (tmp_path / fname).write_bytes(bytes(data))
    monkeypatch.setattr(hub, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="sha256"):
        hub.gru_embedder()


def test_half_precision_export_keeps_embeddings(fixture_files, tmp_path):
    "The README's claim for float16 storage: embeddings of a float32 model and its half export agree (cosine)."
    from simple_speaker_embedding.hub import gru_embedder, export_checkpoint, load_checkpoint
    m = gru_embedder()
    torch.manual_seed(0)
    with torch.no_grad():                                    # float32 weights that float16 cannot hold exactly
        for p in m.parameters(): p.add_(torch.randn_like(p) * 1e-3)
    export_checkpoint(m, tmp_path / "half.pt", half=True)
    h = load_checkpoint(tmp_path / "half.pt")
    mels = [m.melspec_from_file(f) for f in fixture_files]
    cos = (m.embed_mels(mels) * h.embed_mels(mels)).sum(-1)
    assert cos.min() > 0.99999, cos.min()


def test_shipped_model_is_nearly_level_invariant():
    "README failure modes: a clip at 1/4 of its amplitude keeps a high cosine with itself (margin below the stated value)."
    from simple_speaker_embedding.hub import gru_embedder
    from simple_speaker_embedding.hub import example_files
    from simple_speaker_embedding.audio import load_audio
    m = gru_embedder()
    x, sr = load_audio(example_files()[0])
    e = m.embed_utterance(x, sr=sr)
    assert float(e @ m.embed_utterance(x / 4, sr=sr)) > 0.93
    assert float(e @ m.embed_utterance(x / 2, sr=sr)) > 0.97


def test_as_norm_by_hand_with_different_statistics_per_side():
    "Top-k (not all, not bottom-k) cohort cosines, each side its own statistics: hand-computed values."
    from simple_speaker_embedding.model import cohort_stats, as_norm
    coh = np.array([[1, 0], [0, 1], [-1, 0], [0.6, 0.8]], np.float32)
    a, b = np.array([1, 0], np.float32), np.array([0, 1], np.float32)
    ma, sa = cohort_stats(a[None], coh, top_k=2)                      # a's cosines: 1, 0, -1, 0.6 -> top 2: 1, 0.6
    mb, sb = cohort_stats(b[None], coh, top_k=2)                      # b's cosines: 0, 1, 0, 0.8 -> top 2: 1, 0.8
    assert ma[0] == pytest.approx(0.8) and sa[0] == pytest.approx(0.2, abs=1e-5)
    assert mb[0] == pytest.approx(0.9) and sb[0] == pytest.approx(0.1, abs=1e-5)
    z = as_norm(0.5, (ma, sa), (mb, sb))[0]
    assert z == pytest.approx(0.5 * ((0.5 - 0.8) / 0.2 + (0.5 - 0.9) / 0.1), abs=1e-3)   # -2.75
