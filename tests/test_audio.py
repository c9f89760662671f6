"Audio front-end: loading, formats, resampling, silence trimming, the log-mel transform, bad input."
import io

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from simple_speaker_embedding.audio import (
    AudioError,
    MelHParams,
    TacotronMel,
    load_audio,
    melspec_from_array,
    melspec_from_file,
    to_float_audio,
    trim_silence,
)


def test_hparams_are_the_seeds():
    assert MelHParams().as_dict() == dict(filter_length=1024, hop_length=256, win_length=1024, n_mel_channels=80,
                                          sampling_rate=22050, mel_fmin=0, mel_fmax=8000.0, min_log_value=-11.52)


def librosa_logmel(x):
    "The same transform computed directly with librosa."
    S = np.abs(librosa.stft(x, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=True, pad_mode="reflect"))
    basis = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000.0)
    return np.log(np.maximum(basis @ S, 1e-5)).T


def test_mel_matches_librosa_on_speech(fixture_files):
    x, sr = load_audio(fixture_files[0])
    ours = TacotronMel()(torch.from_numpy(x))[0].numpy()
    ref = librosa_logmel(x)
    assert ours.shape == ref.shape == (len(x) // 256 + 1, 80)
    assert np.abs(ours - ref).max() < 1e-3
    assert ours.min() >= np.log(1e-5) - 1e-6  # clamped at 1e-5


def test_mel_is_batched(tone):
    a, b = tone(1, 22050, 200), tone(1, 22050, 900, 0.1)
    mel = TacotronMel()
    both = mel(torch.from_numpy(np.stack([a, b])))
    assert both.shape == (2, 87, 80)
    torch.testing.assert_close(both[1], mel(torch.from_numpy(b))[0], atol=1e-4, rtol=0)


def test_mel_module_follows_the_device():
    mel = TacotronMel().to("meta")  # no GPU here: the meta device shows buffers move with the module
    assert mel.mel_basis.device.type == "meta" and mel.window.device.type == "meta"
    assert mel.state_dict() == {}  # buffers are rebuilt from hparams, not stored


@pytest.mark.parametrize("fmt,subtype,ext", [("WAV", "PCM_16", "wav"), ("FLAC", "PCM_16", "flac"),
                                             ("OGG", "VORBIS", "ogg"), ("OGG", "OPUS", "opus"),
                                             ("MP3", "MPEG_LAYER_III", "mp3")])
def test_load_audio_formats_and_resampling(tmp_path, tone, fmt, subtype, ext):
    sr_in = 48000 if subtype == "OPUS" else 44100
    path = tmp_path / f"a.{ext}"
    sf.write(path, tone(1.0, sr_in), sr_in, format=fmt, subtype=subtype)
    x, sr = load_audio(path)
    assert sr == 22050 and x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 22050) < 2500  # lossy codecs may add padding
    mid = x[len(x) // 4: 3 * len(x) // 4]          # codec edge effects aside, the amplitude is kept
    assert 0.4 < np.abs(mid).max() < 0.6
    # the 220 Hz tone survives: its spectral peak is where it should be
    spec = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spec) * sr / len(x) - 220) < 5


def test_load_audio_mixes_stereo_and_reads_file_objects(tmp_path, tone):
    left, right = tone(1, 16000, 220, 0.4), tone(1, 16000, 220, 0.2)
    buf = io.BytesIO()
    sf.write(buf, np.stack([left, right], 1), 16000, format="WAV")
    buf.seek(0)
    x, sr = load_audio(buf, sr=None)
    assert sr == 16000
    np.testing.assert_allclose(x, (left + right) / 2, atol=1e-4)


def test_int16_arrays_are_converted(tone):
    f = tone(1, 22050)
    i16 = np.round(f * 32767).astype(np.int16)
    np.testing.assert_allclose(to_float_audio(i16), f, atol=1e-4)
    a, b = melspec_from_array(i16), melspec_from_array(f)
    loud = b > -4                                     # quantisation noise only matters in near-empty bins
    assert loud.sum() > 100 and (a - b)[loud].abs().max() < 1e-2


def test_melspec_from_array_resamples(tone):
    x16 = tone(2, 16000)
    m = melspec_from_array(x16, sr=16000)
    m22 = melspec_from_array(librosa.resample(x16, orig_sr=16000, target_sr=22050, res_type="soxr_hq"))
    assert m.shape == m22.shape == (2 * 22050 // 256 + 1, 80)
    assert (m - m22).abs().mean() < 0.05


def test_melspec_from_file_accepts_torch_and_paths(fixture_files):
    m = melspec_from_file(fixture_files[0])
    x, _ = load_audio(fixture_files[0])
    torch.testing.assert_close(m, melspec_from_array(torch.from_numpy(x)))


def test_trim_silence_removes_inner_and_outer_silence(tone):
    sr = 22050
    gap = np.zeros(sr, np.float32)
    x = np.concatenate([gap, tone(1, sr), gap, gap, tone(1, sr), gap])
    y = trim_silence(x)
    assert abs(len(y) - 2 * sr) < 2048
    long_mel, short_mel = melspec_from_array(x), melspec_from_array(x, trim=True)
    assert short_mel.shape[0] < long_mel.shape[0] / 2


# --- bad input: each gets a clear exception naming the problem -------------------------------

def test_missing_file():
    with pytest.raises(FileNotFoundError, match="not found"):
        load_audio("/no/such/dir/clip.wav")


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path)


def test_corrupt_file(tmp_path):
    p = tmp_path / "corrupt.ogg"
    p.write_bytes(b"OggS" + bytes(range(256)) * 8)
    with pytest.raises(AudioError, match="not a readable audio file"):
        load_audio(p)


def test_truncated_file(tmp_path, fixture_files):
    p = tmp_path / "truncated.ogg"
    p.write_bytes(fixture_files[0].read_bytes()[:40])
    with pytest.raises(AudioError):
        load_audio(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(p)


def test_header_only_file(tmp_path):
    p = tmp_path / "noframes.wav"
    sf.write(p, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(p)


def test_zero_length_array():
    with pytest.raises(AudioError, match="empty"):
        melspec_from_array(np.zeros(0, np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples(tone, bad):
    x = tone(1, 22050)
    x[100] = bad
    with pytest.raises(AudioError, match="NaN or Inf"):
        melspec_from_array(x)


def test_silent_audio(tmp_path):
    with pytest.raises(AudioError, match="silent"):
        melspec_from_array(np.zeros(22050, np.float32))
    p = tmp_path / "silence.wav"
    sf.write(p, np.zeros(22050, np.float32), 22050)
    with pytest.raises(AudioError, match="silent"):
        load_audio(p)


def test_shorter_than_one_stft_frame(tone):
    with pytest.raises(AudioError, match="too short"):
        melspec_from_array(tone(0.02, 22050))  # 441 samples < 1024


def test_stereo_array_rejected_with_a_hint(tone):
    with pytest.raises(AudioError, match="mono"):
        melspec_from_array(np.stack([tone(1, 22050)] * 2))


def test_unsupported_dtype():
    with pytest.raises(AudioError, match="sample type"):
        to_float_audio(np.array(["a", "b"]))


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
