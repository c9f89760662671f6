"""Training throughput: DataLoader alone, a plain PyTorch GE2E loop, and the fastai Learner, same batches.

    python bench/bench_train.py MELS_DIR [--hidden 256 768] [--steps 8] [--bf16-hidden 256] [--bf16-steps 3]

MELS_DIR is a folder written by `preprocess` (e.g. of ../shared/data/train). Batches are
32 speakers x 8 utterances cropped to 140-180 frames; Adam, gradient clipping at 3.
Prints steps/s, utterances/s and frames/s for fp32 and bf16 autocast.
"""
import argparse
import time

import torch
from common import StepTimer

from simple_speaker_embedding.data import speaker_dataloaders
from simple_speaker_embedding.learner import ge2e_learner
from simple_speaker_embedding.loss import GE2ELoss
from simple_speaker_embedding.model import GRUEmbedder


def plain_loop(dls, hidden, steps, bf16):
    model, loss = GRUEmbedder(hidden=hidden), GE2ELoss()
    opt = torch.optim.Adam([{'params': model.parameters()}, {'params': loss.parameters(), 'lr': 1e-5}], lr=1e-3)
    it, t = iter(dls.train), []
    for _ in range(steps):
        x, y = next(it)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            l = loss(model(x), y)
        opt.zero_grad(); l.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(loss.parameters()), 3.0)
        opt.step(); t.append(time.perf_counter())
    return t


def rate(t, frames):
    dt = (t[-1] - t[1]) / (len(t) - 2)      # skip the first (warm-up) step
    return 1 / dt, 256 / dt, 256 * frames / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mels")
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 768])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--bf16-hidden", type=int, nargs="*", default=[256, 768], help="hidden sizes to time in bf16 (none: skip)")
    ap.add_argument("--bf16-steps", type=int, default=None, help="steps for bf16 rows (default: --steps)")
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    dls = speaker_dataloaders(args.mels, n_speakers=32, n_utterances=8, crop=(140, 180), progress=False)
    t0, n = time.perf_counter(), 0
    for _ in range(3):
        for xb, yb in dls.train: n += 1
    dl_rate = n / (time.perf_counter() - t0)
    frames = 160
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batches of 32 x 8 crops of 140-180 frames")
    print(f"DataLoader alone: {dl_rate:.1f} batches/s ({dl_rate * 256:.0f} utterances/s)")
    print(f"{'hidden':>6} {'dtype':>5} {'loop':>8} {'steps/s':>8} {'utt/s':>8} {'frames/s':>9}")
    for hidden in args.hidden:
        for bf16 in [False, True] if hidden in args.bf16_hidden else [False]:
            steps = (args.bf16_steps or args.steps) if bf16 else args.steps
            torch.manual_seed(0)
            t = plain_loop(dls, hidden, steps, bf16)
            s, u, f = rate(t, frames)
            print(f"{hidden:>6} {'bf16' if bf16 else 'fp32':>5} {'plain':>8} {s:8.3f} {u:8.1f} {f:9.0f}", flush=True)
            torch.manual_seed(0)
            learn = ge2e_learner(dls, GRUEmbedder(hidden=hidden), bf16=bf16)
            tm = StepTimer(steps, first=1)
            with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3, cbs=tm)
            s, u, f = rate(tm.t, frames)
            print(f"{hidden:>6} {'bf16' if bf16 else 'fp32':>5} {'fastai':>8} {s:8.3f} {u:8.1f} {f:9.0f}", flush=True)


if __name__ == "__main__":
    main()
