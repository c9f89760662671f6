"ONNX export: dynamic batch and time axes, matches PyTorch within 1e-4."
import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from simple_speaker_embedding.hub import export_onnx
from simple_speaker_embedding.model import GRUEmbedder


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = GRUEmbedder(hidden=64, layers=2).eval()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "m.onnx")
    return model, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("lengths", [[50], [120, 80, 33], [17, 200, 64, 91, 5, 140, 140]])
def test_onnx_matches_pytorch_at_other_batch_sizes_and_lengths(exported, lengths):
    model, sess = exported
    g = torch.Generator().manual_seed(len(lengths))
    mels = [torch.randn(n, 80, generator=g) - 5 for n in lengths]
    x, l = pad_sequence(mels, batch_first=True), torch.tensor(lengths)
    (onnx_out,) = sess.run(None, {"mels": x.numpy(), "lengths": l.numpy().astype(np.int64)})
    with torch.no_grad(): ref = model(x, l).numpy()
    assert onnx_out.shape == (len(lengths), 256)
    np.testing.assert_allclose(onnx_out, ref, atol=1e-4, rtol=0)


def test_onnx_input_names(exported):
    _, sess = exported
    assert [i.name for i in sess.get_inputs()] == ["mels", "lengths"]
    assert sess.get_inputs()[0].shape[0] != 3 and sess.get_inputs()[0].shape[1] != 64   # symbolic, not traced sizes


def test_onnx_embed_checks_the_contract(exported):
    "lengths of 0 abort the whole onnxruntime process (SIGABRT): the helper refuses them before the graph runs."
    from simple_speaker_embedding.hub import onnx_embed
    model, sess = exported
    x = torch.randn(2, 30, 80) - 5
    np.testing.assert_allclose(onnx_embed(sess, x.numpy(), [30, 12]),
                               model(x, torch.tensor([30, 12])).detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(onnx_embed(sess, x.numpy()), model(x).detach().numpy(), atol=1e-4)
    for bad in ([0, 12], [31, 5], [-1, 3]):
        with pytest.raises(ValueError, match="lengths must be in"): onnx_embed(sess, x.numpy(), bad)
    with pytest.raises(ValueError, match="zero frames"): onnx_embed(sess, np.zeros((1, 0, 80), np.float32), [0])
    with pytest.raises(ValueError, match="2 lengths for a batch of 1"): onnx_embed(sess, x[:1].numpy(), [3, 4])


def test_onnx_graph_is_safe_outside_the_contract(exported):
    "A user's own onnxruntime code: lengths outside [1, frames] are clamped, zero frames give a defined output (no abort)."
    model, sess = exported
    x = (torch.randn(2, 30, 80, generator=torch.Generator().manual_seed(3)) - 5).numpy()
    run = lambda x, l: sess.run(None, {"mels": x, "lengths": np.asarray(l, dtype=np.int64)})[0]
    with torch.no_grad():
        first = model(torch.from_numpy(x[:, :1])).numpy()                 # one frame
        full = model(torch.from_numpy(x)).numpy()                         # all 30
    np.testing.assert_allclose(run(x, [0, -5]), first, atol=1e-4)            # below 1: one frame
    np.testing.assert_allclose(run(x, [31, 999]), full, atol=1e-4)           # beyond the frames: all of them
    empty = run(x[:, :0], [0, 3])                                            # zero frames: the embedding of silence
    assert empty.shape == (2, 256) and np.isfinite(empty).all() and np.allclose(np.linalg.norm(empty, axis=1), 1, atol=1e-5)
