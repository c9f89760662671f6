"GRUEmbedder: shapes, scaling, padding invariance, bad input, and the high-level embed helpers."
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from simple_speaker_embedding.audio import load_audio
from simple_speaker_embedding.model import GRUEmbedder, _windows


def test_default_architecture_is_the_seeds():
    m = GRUEmbedder()
    assert (m.gru.input_size, m.gru.hidden_size, m.gru.num_layers) == (80, 768, 3)
    assert (m.proj.in_features, m.proj.out_features) == (768, 256)


def test_output_is_unit_length(small_model):
    e = small_model(torch.randn(4, 60, 80) - 6)
    assert e.shape == (4, 256)
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(4))


def test_normalize_false_expects_scaled_input(small_model):
    raw = torch.rand(2, 40, 80) * -11.52
    unscaled = GRUEmbedder(hidden=64, layers=2, normalize=False).eval()
    unscaled.load_state_dict(small_model.state_dict())
    torch.testing.assert_close(unscaled(small_model.scale(raw)), small_model(raw))
    assert small_model.scale(torch.tensor([-11.52, 0.0])).tolist() == pytest.approx([-1.0, 1.0])


def test_padded_batch_equals_one_by_one(small_model):
    torch.manual_seed(1)
    mels = [torch.randn(n, 80) - 5 for n in (17, 64, 33, 5)]
    single = torch.cat([small_model(m[None]) for m in mels])
    batch = small_model(pad_sequence(mels, batch_first=True), lengths=torch.tensor([17, 64, 33, 5]))
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=0)
    # and the reason `lengths` exists: without it the padding changes the answer
    assert (small_model(pad_sequence(mels, batch_first=True)) - single).abs().max() > 1e-3


@pytest.mark.parametrize("shape,match", [((50, 80), r"mel\[None\]"), ((1, 2, 50, 80), "shape"),
                                         ((1, 50, 40), "channels"), ((1, 0, 80), "zero frames")])
def test_wrong_rank_or_mel_count(small_model, shape, match):
    with pytest.raises(ValueError, match=match):
        small_model(torch.zeros(shape))


def test_mels_on_another_device(small_model):
    with pytest.raises(ValueError, match="model is on cpu"):
        small_model(torch.zeros(1, 10, 80, device="meta"))


def test_nan_mels(small_model):
    x = torch.zeros(1, 10, 80)
    x[0, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        small_model(x)


def test_bad_lengths(small_model):
    with pytest.raises(ValueError, match="lengths"):
        small_model(torch.zeros(2, 10, 80), lengths=torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="lengths"):
        small_model(torch.zeros(2, 10, 80), lengths=torch.tensor([3]))


def test_numpy_input_rejected(small_model):
    with pytest.raises(TypeError, match="torch.Tensor"):
        small_model(np.zeros((1, 10, 80), np.float32))


def test_melspec_methods(small_model, fixture_files):
    m = small_model.melspec_from_file(fixture_files[0])
    assert m.ndim == 2 and m.shape[1] == 80
    x, _ = load_audio(fixture_files[0], sr=16000)
    m16 = small_model.melspec_from_array(x, sr=16000)   # resampled, not an error
    assert abs(m16.shape[0] - m.shape[0]) <= 2
    e = small_model(m[None])
    assert e.shape == (1, 256)


def test_print_hparams_matches_the_seed_format(capsys):
    GRUEmbedder(hidden=8, layers=1).print_hparams()
    assert capsys.readouterr().out.splitlines() == [
        "filter_length  :  1024", "hop_length  :  256", "win_length  :  1024", "n_mel_channels  :  80",
        "sampling_rate  :  22050", "mel_fmin  :  0", "mel_fmax  :  8000.0", "min_log_value  :  -11.52"]


def test_embed_files_keeps_order_and_matches_single_calls(small_model, fixture_files):
    files = fixture_files[:7]
    many = small_model.embed_files(files, batch_size=3)
    assert many.shape == (7, 256)
    for i in (0, 3, 6):
        torch.testing.assert_close(many[i], small_model.embed_utterance(files[i]), atol=1e-5, rtol=0)
    # items may be waveforms too, at any rate
    x, _ = load_audio(files[2], sr=16000)
    torch.testing.assert_close(small_model.embed_utterance(x, sr=16000), many[2], atol=0.05, rtol=0)
    assert small_model.embed_files([]).shape == (0, 256)


def test_embed_helpers_trim_silence_by_default(small_model, fixture_files):
    x, sr = load_audio(fixture_files[0])
    padded = np.concatenate([np.zeros(5 * sr, np.float32), x, np.zeros(5 * sr, np.float32)])
    trimmed = small_model.embed_utterance(padded)
    clean = small_model.embed_utterance(x)
    untrimmed = small_model.embed_utterance(padded, trim=False)
    assert (trimmed @ clean) > (untrimmed @ clean)


def test_long_utterances_are_windowed(small_model, fixture_files):
    x, sr = load_audio(fixture_files[0])
    long = np.tile(x, int(np.ceil(70 * sr / len(x))))[: 70 * sr]     # 70 s
    mel = small_model.melspec_from_array(long, trim=True)
    wins = _windows(mel, 860, 430)
    assert len(wins) > 10 and all(w.shape[0] == 430 for w in wins)
    assert wins[-1][-1].equal(mel[-1])
    by_hand = F.normalize(torch.cat([small_model(w[None]) for w in wins]).mean(0), dim=-1)
    torch.testing.assert_close(small_model.embed_utterance(long), by_hand, atol=1e-5, rtol=0)


def test_embed_speaker_is_normalised_mean(small_model, fixture_files):
    files = fixture_files[:4]
    spk = small_model.embed_speaker(files)
    expected = F.normalize(small_model.embed_files(files).mean(0), dim=0)
    torch.testing.assert_close(spk, expected)
    with pytest.raises(ValueError, match="at least one"):
        small_model.embed_speaker([])


def test_bf16_autocast_is_close_to_fp32(small_model, fixture_files):
    fp32 = small_model.embed_files(fixture_files[:4])
    bf16 = small_model.embed_files(fixture_files[:4], autocast=True)
    assert bf16.dtype == torch.float32
    assert (fp32 * bf16).sum(-1).min() > 0.99


def test_embed_reports_bad_files(small_model, tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        small_model.embed_utterance(p)


def test_long_mels_are_cut_into_half_overlapping_windows():
    from simple_speaker_embedding.model import _windows
    mel = torch.arange(1000).float()[:, None].expand(1000, 80)
    w = _windows(mel, max_frames=860, window_frames=430)
    assert [int(x[0, 0]) for x in w] == [0, 215, 430, 570]          # hop 215 (50%), the last flush with the end
    assert all(len(x) == 430 for x in w) and int(w[-1][-1, 0]) == 999
    assert len(_windows(mel[:860], 860, 430)) == 1                   # up to max_frames: one piece


def test_lengths_beyond_the_frames_are_refused(small_model):
    x = torch.randn(2, 40, 80) - 5
    with pytest.raises(ValueError):
        small_model(x, torch.tensor([40, 41]))
    with pytest.raises(ValueError):
        small_model(x, torch.tensor([0, 10]))


def test_shipped_model_is_nearly_level_invariant():
    "README failure modes: a clip at 1/4 of its amplitude keeps a high cosine with itself (margin below the stated value)."
    from simple_speaker_embedding.audio import load_audio
    from simple_speaker_embedding.hub import example_files, gru_embedder
    m = gru_embedder()
    x, sr = load_audio(example_files()[0])
    e = m.embed_utterance(x, sr=sr)
    assert float(e @ m.embed_utterance(x / 4, sr=sr)) > 0.93
    assert float(e @ m.embed_utterance(x / 2, sr=sr)) > 0.97


def test_as_norm_by_hand_with_different_statistics_per_side():
    "Top-k (not all, not bottom-k) cohort cosines, each side its own statistics: hand-computed values."
    from simple_speaker_embedding.asnorm import as_norm, cohort_stats
    coh = np.array([[1, 0], [0, 1], [-1, 0], [0.6, 0.8]], np.float32)
    a, b = np.array([1, 0], np.float32), np.array([0, 1], np.float32)
    ma, sa = cohort_stats(a[None], coh, top_k=2)                      # a's cosines: 1, 0, -1, 0.6 -> top 2: 1, 0.6
    mb, sb = cohort_stats(b[None], coh, top_k=2)                      # b's cosines: 0, 1, 0, 0.8 -> top 2: 1, 0.8
    assert ma[0] == pytest.approx(0.8) and sa[0] == pytest.approx(0.2, abs=1e-5)
    assert mb[0] == pytest.approx(0.9) and sb[0] == pytest.approx(0.1, abs=1e-5)
    z = as_norm(0.5, (ma, sa), (mb, sb))[0]
    assert z == pytest.approx(0.5 * ((0.5 - 0.8) / 0.2 + (0.5 - 0.9) / 0.1), abs=1e-3)   # -2.75


def test_verify_decides_by_the_threshold_given(fixture_files, small_model, capsys):
    import copy
    m = copy.deepcopy(small_model); m.threshold = 0.999999              # the model's own: nothing passes
    s, same = m.verify(str(fixture_files[0]), str(fixture_files[5]))
    assert same is False and s < 0.999999
    assert m.verify(str(fixture_files[0]), str(fixture_files[5]), threshold=s - 1e-3)[1] is True
    from simple_speaker_embedding.cli import main  # the shipped model has its own AS-norm threshold
    assert main(["verify", str(fixture_files[0]), str(fixture_files[5]), "--threshold", "-50"]) == 0
    assert "threshold -50.0000  -> same speaker" in capsys.readouterr().out


def test_int8_quantises_the_gru(small_model, fixture_files, tmp_path, monkeypatch):
    import simple_speaker_embedding.cli as cli
    import simple_speaker_embedding.commands as commands
    from simple_speaker_embedding.model import quantize_int8
    q = quantize_int8(small_model)
    assert type(q.gru).__module__.startswith("torch.ao.nn.quantized.dynamic")
    seen = []
    monkeypatch.setattr(commands, "embed_cmd", lambda inputs, out, model=None, **kw: seen.append(model))
    assert cli.main(["embed", str(fixture_files[0]), "--out", str(tmp_path / "e"), "--int8"]) == 0
    assert type(seen[0].gru).__module__.startswith("torch.ao.nn.quantized.dynamic")   # `sse embed --int8` embeds with it
