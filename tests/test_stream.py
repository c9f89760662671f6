"""Streaming embeddings: any chunking gives the offline log-mels
and, at the end, the offline embedding; bad chunks fail in one line."""
import numpy as np
import pytest
import torch

from simple_speaker_embedding.audio import AudioError, load_audio, melspec_from_array
from simple_speaker_embedding.hub import gru_embedder
from simple_speaker_embedding.stream import StreamingEmbedder


@pytest.fixture(scope="module")
def model():
    return gru_embedder()


def pieces(x, rng, hi=3000):
    i = 0
    while i < len(x):
        n = int(rng.integers(0, hi)); yield x[i:i + n]; i += n      # zero-length chunks included


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_chunkings_give_the_offline_mels_and_embedding(model, fixture_files, seed):
    rng = np.random.default_rng(seed)
    for f in fixture_files[seed::8]:
        x, _ = load_audio(f, sr=22050)
        st = model.stream()
        for ch in pieces(x, rng): st.push(ch)
        e, want = st.end(), melspec_from_array(x)
        assert st.log_mels().shape == want.shape
        torch.testing.assert_close(st.log_mels(), want, atol=1e-5, rtol=0)
        assert float(e @ model.embed_mels([want])[0]) >= 0.9999


def test_a_long_stream_follows_the_offline_window_policy(model, fixture_files):
    x = np.concatenate([load_audio(f, sr=22050)[0] for f in fixture_files[:9]])
    st, rng = StreamingEmbedder(model), np.random.default_rng(3)
    seen = [st.push(x[:1000])] + [st.push(ch) for ch in pieces(x[1000:], rng, hi=22050)]
    want = melspec_from_array(x)
    assert len(want) > 2 * 860                                                 # windowed offline
    assert float(st.end() @ model.embed_mels([want])[0]) >= 0.9999
    assert len(st.wins) <= 3 and len(st.tail) == 430                           # constant state: windows
                                                                               # running, last window's frames
    assert seen[0] is None and seen[-1] is not None                            # None before MIN_FRAMES frames (1,000 samples: 4)


def test_resampled_stream_matches_the_one_shot_resampler(model, fixture_files):
    x, _ = load_audio(fixture_files[4], sr=16000)
    st = model.stream()
    for i in range(0, len(x), 1600): st.push(x[i:i + 1600], sr=16000)
    e, want = st.end(), melspec_from_array(x, sr=16000)
    torch.testing.assert_close(st.log_mels(), want, atol=1e-5, rtol=0)
    assert float(e @ model.embed_mels([want])[0]) >= 0.9999


def test_silence_first_zero_chunks_int16_and_bad_input(model, fixture_files):
    x, _ = load_audio(fixture_files[2], sr=22050)
    quiet = np.concatenate([np.zeros(22050, np.float32), x])                   # a second of silence first: kept, as offline
    st = model.stream()
    assert st.push(np.zeros(0, np.float32)) is None and st.push(quiet[:22050]) is not None   # silence is frames too
    st.push(quiet[22050:])
    assert float(st.end() @ model.embed_mels([melspec_from_array(quiet)])[0]) >= 0.9999
    pcm = (x * 32767).astype(np.int16)                                         # integer PCM, scaled as offline
    st = model.stream(); st.push(pcm)
    assert float(st.end() @ model.embed_mels([melspec_from_array(pcm)])[0]) >= 0.9999
    st = model.stream()
    with pytest.raises(AudioError, match="expected a mono 1-D waveform"): st.push(np.zeros((2, 100), np.float32))
    with pytest.raises(AudioError, match="unsupported sample type"): st.push(np.array(["a"]))
    st.push(x[:1000], sr=22050)
    with pytest.raises(AudioError, match="this stream is at 22050 Hz; a chunk at 16000 Hz needs reset"): st.push(x[:10], sr=16000)
    with pytest.raises(AudioError, match="stream too short"): model.stream().end()
    st.reset(); st.push(x); st.end()
    with pytest.raises(RuntimeError, match="the stream has ended"): st.push(x[:10])


def test_a_stream_of_exactly_min_frames_is_embedded_and_one_frame_less_is_refused(model):
    """MIN_FRAMES frames (counted by the offline transform, not the
    stream) end with the offline embedding; one frame less is refused."""
    from simple_speaker_embedding.audio import MIN_FRAMES
    hop = model.mel_hparams.hop_length
    x = (0.3 * np.sin(np.arange((MIN_FRAMES - 1) * hop) / 9)).astype(np.float32)
    assert melspec_from_array(x).shape[0] == MIN_FRAMES
    st = model.stream(); st.push(x)
    e, want = st.end(), model.embed_mels([melspec_from_array(x)])[0]
    assert float(torch.dot(e, want)) > 0.9999
    short = x[:-hop]
    assert melspec_from_array(short).shape[0] == MIN_FRAMES - 1
    st = model.stream(); st.push(short)
    with pytest.raises(AudioError, match="too short to judge"): st.end()


def test_a_sample_rate_of_zero_is_refused_in_one_line(model):
    with pytest.raises(AudioError, match="invalid sample rate 0"): model.stream().push(np.zeros(100, np.float32), 0)
