"""GE2E loss speed: vectorised GE2ELoss vs a loop-based reference, forward + backward.

    python bench/bench_loss.py [--n 64] [--m 10] [--dim 256] [--repeat 5]
"""
import argparse
import time

import torch

from simple_speaker_embedding.loss import GE2ELoss, ge2e_reference


def timed(f, repeat):
    f()  # warm-up
    t = time.perf_counter()
    for _ in range(repeat): f()
    return (time.perf_counter() - t) / repeat


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64); ap.add_argument("--m", type=int, default=10)
    ap.add_argument("--dim", type=int, default=256); ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    e = torch.randn(a.n, a.m, a.dim, requires_grad=True)
    loss = GE2ELoss()
    def fast(): loss(e).backward()
    def slow(): ge2e_reference(e, loss.w, loss.b).backward()
    torch.testing.assert_close(loss(e), ge2e_reference(e, loss.w, loss.b), atol=1e-4, rtol=1e-4)
    tf, ts = timed(fast, a.repeat), timed(slow, max(1, a.repeat // 5))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; N={a.n} speakers x M={a.m} utterances, {a.dim}-d")
    print(f"GE2ELoss (vectorised) forward+backward: {1000 * tf:8.2f} ms")
    print(f"loop reference        forward+backward: {1000 * ts:8.2f} ms")
    print(f"speed-up: {ts / tf:.0f}x")


if __name__ == "__main__":
    main()
