"""Dev EER of a model when long utterances are embedded as shorter windows (averaged), for several window sizes.

Evaluation embeds whole utterances by default (windows only above 860 frames) while training sees shorter crops
(140-180 frames in stages 1-2 of the shipped recipe, 160-400 in stage 3). This measures what matching the two would
change. Usage:

    python studies/eval_windows.py ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 [--model runs/warm/model.pt]
"""
import argparse

import numpy as np
import torch

from simple_speaker_embedding.evaluate import evaluate
from simple_speaker_embedding.hub import gru_embedder, load_checkpoint
from simple_speaker_embedding.metrics import make_trials

SETTINGS = [(860, 430), (300, 200), (240, 160), (200, 160), (160, 120)]   # (max_frames, window); first = default

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs="+", help="dev folders (<speaker>/<utterance>)")
    ap.add_argument("--model", default=None, help="checkpoint file (default: the shipped gru_embedder)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = gru_embedder() if args.model is None else load_checkpoint(args.model)
    for root in args.roots:
        trials = make_trials(root)
        paths = sorted(set(trials.path1) | set(trials.path2))
        mels = [model.melspec_from_file(p, trim=True) for p in paths]
        n = np.array([m.shape[0] for m in mels])
        print(f"{root}: {len(paths)} clips, frames median {np.median(n):.0f} (min {n.min()}, max {n.max()})")
        for max_frames, window in SETTINGS:        # mels computed once; `evaluate` scores the same trials each time
            e = dict(zip(paths, model.embed_mels(mels, max_frames=max_frames, window_frames=window)))
            res = evaluate(lambda p: e[p], trials, n_boot=0, progress=False)
            print(f"  windows above {max_frames:4d} frames, {window:3d}-frame windows: EER {100 * res.eer:.2f}%")
