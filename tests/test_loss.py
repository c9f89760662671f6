"GE2E loss: matches a loop reference from the paper's equations, gradients, separation, layout checks."
import pytest
import torch
import torch.nn.functional as F

from simple_speaker_embedding.loss import GE2ELoss, ge2e_reference, group_by_speaker


@pytest.mark.parametrize("method", ["softmax", "contrast"])
@pytest.mark.parametrize("shape", [(2, 2, 8), (5, 4, 16), (8, 6, 32)])
def test_matches_loop_reference(method, shape):
    torch.manual_seed(sum(shape))
    e = torch.randn(*shape)                      # unnormalised on purpose: cosine handles it
    loss = GE2ELoss(method, init_w=7.0, init_b=-3.0)
    torch.testing.assert_close(loss(e), ge2e_reference(e, loss.w, loss.b, method), atol=1e-5, rtol=1e-5)


def test_flat_input_with_labels_equals_nmd():
    torch.manual_seed(0)
    e = torch.randn(4, 3, 8)
    y = torch.tensor([7, 7, 7, 2, 2, 2, 9, 9, 9, 0, 0, 0])
    loss = GE2ELoss()
    torch.testing.assert_close(loss(e.reshape(12, 8), y), loss(e))


@pytest.mark.parametrize("method", ["softmax", "contrast"])
def test_gradients_reach_w_b_and_embeddings(method):
    torch.manual_seed(0)
    emb = torch.randn(4, 5, 16, requires_grad=True)
    loss = GE2ELoss(method)
    loss(F.normalize(emb, dim=-1)).backward()
    assert loss.w.grad.abs() > 1e-3 and emb.grad.abs().sum() > 0
    if method == "softmax":      # b shifts every logit of a row equally: softmax cancels it, so its gradient is 0
        assert loss.b.grad.abs() < 1e-6
    else:                        # the sigmoids of the contrast loss do see b
        assert loss.b.grad.abs() > 1e-3


def test_separated_speakers_score_lower_than_shuffled():
    torch.manual_seed(0)
    centres = F.normalize(torch.randn(6, 1, 32), dim=-1)
    separated = F.normalize(centres + 0.1 * torch.randn(6, 4, 32), dim=-1)
    shuffled = separated.reshape(24, 32)[torch.randperm(24)].reshape(6, 4, 32)
    for method in ("softmax", "contrast"):
        loss = GE2ELoss(method)
        assert loss(separated) < loss(shuffled) - 0.1


def test_w_is_kept_positive():
    loss = GE2ELoss(init_w=-4.0)
    e = torch.randn(3, 4, 8)
    S = loss.similarity(e)
    assert torch.allclose(S, torch.full_like(S, float(loss.b)), atol=1e-4)  # w clamped to ~0, not negative


def test_layout_and_size_errors():
    loss = GE2ELoss()
    with pytest.raises(ValueError, match="contiguous"):
        loss(torch.randn(6, 8), torch.tensor([0, 1, 0, 1, 0, 1]))
    with pytest.raises(ValueError, match="2 utterances"):
        loss(torch.randn(3, 1, 8))
    with pytest.raises(ValueError, match="2 speakers"):
        loss(torch.randn(1, 4, 8))
    with pytest.raises(ValueError, match="softmax"):
        GE2ELoss("triplet")
    assert group_by_speaker(torch.zeros(6, 2), torch.tensor([1, 1, 1, 5, 5, 5])).shape == (2, 3, 2)


def test_labels_shaped_n_by_m():
    "(N, M) labels give the layout without reading them on a GPU; on a CPU their rows are still checked."
    e = torch.randn(6, 4)
    y = torch.tensor([1, 1, 1, 5, 5, 5])
    assert torch.equal(group_by_speaker(e, y.view(2, 3)), group_by_speaker(e, y))
    loss = GE2ELoss()
    assert torch.allclose(loss(e, y.view(2, 3)), loss(e, y))
    with pytest.raises(ValueError, match="one speaker"):
        group_by_speaker(e, torch.tensor([[1, 1, 5], [5, 5, 5]]))
    with pytest.raises(ValueError, match="2 x 2 labels"):
        group_by_speaker(e, torch.tensor([[1, 1], [5, 5]]))


def test_aam_softmax_by_hand_margin_and_scale_honoured():
    "Two classes at right angles, an embedding at 60 degrees from the first: logits s*cos(60+m) and s*cos(30) by hand."
    import math

    from simple_speaker_embedding.loss import AAMSoftmax
    e = torch.tensor([[math.cos(math.pi / 3), math.sin(math.pi / 3)]]) * 3        # length does not matter
    for m, s in ((0.0, 1.0), (0.2, 30.0), (0.5, 16.0)):
        head = AAMSoftmax(2, 2, margin=m, scale=s)
        with torch.no_grad(): head.weight.copy_(torch.eye(2) * 5)
        want = torch.tensor([[s * math.cos(math.pi / 3 + m), s * math.cos(math.pi / 6)]])
        torch.testing.assert_close(head.logits(e, torch.tensor([0])), want, atol=1e-5, rtol=1e-5)
        ce = -(want[0, 0] - torch.logsumexp(want[0], 0))
        torch.testing.assert_close(head(e, torch.tensor([0])), ce, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="margin"): AAMSoftmax(2, 2, margin=2.0)


def test_margin_loss_leaves_classless_rows_out_and_adds_ge2e():
    from simple_speaker_embedding.loss import MarginGE2ELoss
    torch.manual_seed(1)
    emb = F.normalize(torch.randn(8, 6), dim=-1)
    y = torch.tensor([3, 3, 1, 1, 8, 8, 4, 4])                 # 8 and 4: validation speakers, no class
    aam = MarginGE2ELoss([1, 3], emb_dim=6, ge2e_weight=0.0)
    assert aam.head.weight.shape == (2, 6)
    torch.testing.assert_close(aam(emb, y), aam.head(emb[:4], torch.tensor([1, 1, 0, 0])))
    val = MarginGE2ELoss([1, 3], emb_dim=6)
    torch.testing.assert_close(val(emb[4:], y[4:]), GE2ELoss()(emb[4:], y[4:]))   # no class in the batch: GE2E alone


def test_aam_logit_across_the_whole_angle_range_by_hand():
    "Class rows of different lengths, not orthogonal; embeddings from 0 to 180 degrees off their class: the true class's "
    "logit is s*cos(theta + m) up to theta = pi - m and s*(cos(theta) - m sin(m)) past it, the others s*cos (numpy here)."
    import math

    import numpy as np

    from simple_speaker_embedding.loss import AAMSoftmax
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 5)) * np.array([[1.0], [3.0], [0.5]])
    m, s = 0.3, 10.0
    head = AAMSoftmax(3, 5, margin=m, scale=s)
    with torch.no_grad(): head.weight.copy_(torch.tensor(W, dtype=torch.float32))
    u = W[1] / np.linalg.norm(W[1]); v = rng.standard_normal(5); v -= (v @ u) * u; v /= np.linalg.norm(v)
    theta = np.linspace(0, math.pi, 37)
    emb = 2.5 * (np.cos(theta)[:, None] * u + np.sin(theta)[:, None] * v)
    got = head.logits(torch.tensor(emb, dtype=torch.float32), torch.ones(len(theta), dtype=torch.long)).detach().double().numpy()
    cos = (emb / np.linalg.norm(emb, axis=1, keepdims=True)) @ (W / np.linalg.norm(W, axis=1, keepdims=True)).T
    want = s * cos
    want[:, 1] = s * np.where(theta <= math.pi - m, np.cos(theta + m), np.cos(theta) - m * math.sin(m))
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_aam_margin_bounds_and_the_layout_message():
    import math

    from simple_speaker_embedding.loss import AAMSoftmax
    for ok in (0.0, 1.5):                                        # [0, pi/2): no margin, and a large one
        assert AAMSoftmax(2, 4, margin=ok).margin == ok
    for bad in (-0.1, math.pi / 2):
        with pytest.raises(ValueError, match="margin must be in"): AAMSoftmax(2, 4, margin=bad)
    with pytest.raises(ValueError, match=r"batch of 6 embeddings with 2 x 2 labels"):
        group_by_speaker(torch.zeros(6, 3), torch.zeros(2, 2, dtype=torch.long))
