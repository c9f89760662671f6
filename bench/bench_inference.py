"""Embedder inference throughput on CPU: 5-second utterances per second.

    python bench/bench_inference.py [--seconds 5] [--min-time 3]

For hidden 768 (the seed's) and 256, batch 1 and 32, fp32 and bf16 autocast. Inputs are random
log-mels of 5 s (431 frames); weights are random (speed does not depend on them).
"""
import argparse
import time

import torch
from common import FPS

from simple_speaker_embedding.model import GRUEmbedder


def rate(model, batch, frames, autocast, min_time):
    x = torch.randn(batch, frames, 80) - 5
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        model(x)  # warm-up
        n, t0 = 0, time.perf_counter()
        while (el := time.perf_counter() - t0) < min_time or n < 2:
            model(x); n += 1
    return n * batch / el


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="utterance length")
    ap.add_argument("--min-time", type=float, default=3.0, help="seconds to time each setting")
    args = ap.parse_args()
    frames = int(args.seconds * FPS) + 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {frames}-frame ({args.seconds:g} s) utterances")
    print(f"{'hidden':>6} {'batch':>5} {'dtype':>5} {'utt/s':>8} {'x realtime':>10}")
    for hidden in (768, 256):
        model = GRUEmbedder(hidden=hidden).eval()
        for batch in (1, 32):
            for autocast in (False, True):
                r = rate(model, batch, frames, autocast, args.min_time)
                print(f"{hidden:>6} {batch:>5} {'bf16' if autocast else 'fp32':>5} {r:8.1f} {r * args.seconds:10.0f}")


if __name__ == "__main__":
    main()
