"""How often does `sse diarize` find the right number of speakers? Two- and three-speaker conversations built from
dev speakers (`synth_conversation`), the count estimated by each rule below, the fraction right per set.

Rules: the eigengap of the pruned affinity graph on cosines (`estimate_speakers` before this bench), and on the
scores the clustering itself uses (AS-norm against the model's cohort, `sse diarize`'s default), at several prunings.
A rule is chosen on calibration conversations (seeds 0+) and reported on test conversations (seeds `--test-seed`+).

    python studies/diarize_count.py ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 \\
        ../shared/data/dev/librispeech_halves --n 20 --out docs/results/diarize_count.json
"""
import argparse
import json
from pathlib import Path

import numpy as np
from conversations import synth_conversation

from simple_speaker_embedding.asnorm import asnorm_cohort
from simple_speaker_embedding.audio import SAMPLE_RATE as SR
from simple_speaker_embedding.diarize import DIARIZE_PRUNE, estimate_speakers, partial_embeddings
from simple_speaker_embedding.hub import gru_embedder

PRUNES = (0.1, 0.2, 0.3, 0.4)

def counts(model, root, k, seeds):
    "Per conversation: the count each rule estimates."
    cohort, top_k = asnorm_cohort(model)
    out = []
    for seed in seeds:
        y, ref = synth_conversation(root, n_speakers=k, seed=seed)
        f = partial_embeddings(model, y, sr=SR).features
        row = {}
        for p in PRUNES:
            row[f"cosine@{p}"] = estimate_speakers(f, prune=p)
            row[f"as-norm@{p}"] = estimate_speakers(f, prune=p, cohort=cohort, top_k=top_k)
        out.append(row)
    return out

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dev", nargs="+")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--n-calib", type=int, default=10)
    ap.add_argument("--speakers", type=int, nargs="+", default=[2, 3]); ap.add_argument("--test-seed", type=int, default=7000)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    model = gru_embedder()
    res = {}
    for split, seeds in (("calib", range(a.n_calib)), ("test", range(a.test_seed, a.test_seed + a.n))):
        for d in a.dev:
            for k in a.speakers:
                res[f"{split}|{Path(d).name}|{k}"] = counts(model, d, k, seeds)
                rows = res[f"{split}|{Path(d).name}|{k}"]
                print(split, Path(d).name, k, {r: f"{np.mean([x[r] == k for x in rows]):.2f}" for r in rows[0]}, flush=True)
    rules = list(next(iter(res.values()))[0])
    right = lambda split, r: np.mean([x[r] == int(key.split('|')[2]) for key,
                                      rows in res.items() if key.startswith(split) for x in rows])
    best = max(rules, key=lambda r: right("calib", r))
    print(f"chosen on calibration conversations: {best} ({right('calib', best):.2f} right); on test: {right('test', best):.2f}; "
          f"previous rule cosine@{DIARIZE_PRUNE}: test "
          f"{right('test', f'cosine@{DIARIZE_PRUNE}') if f'cosine@{DIARIZE_PRUNE}' in rules else 'n/a'}")
    if a.out: Path(a.out).write_text(json.dumps(dict(results=res, chosen=best), indent=1))
