"""Training-speaker validation: the EER of held-out *training* speakers, per training dataset, for one or more models.

The held-out speakers are `data.held_out_speakers(manifest, valid_pct, valid_seed)`: the ones `sse train` keeps out of
training with the same `--valid-pct` and `--valid-seed` (drawn from every dataset; the same for every `--seed`), so
every run of a recipe is measured on speakers none of them trained on. Each held-out speaker's utterances (up to
`--per-speaker`, whole, at speed 1) are embedded from the mel store; every pair within a dataset is a trial (cosine, and
with `--asnorm` AS-norm against a cohort of the store's *training* speakers, the same for every model). A dataset whose
held-out speakers give no target or no impostor pair, or that has fewer than `--min-speakers` held-out speakers (an
EER of two speakers says little), is reported and left out of the mean. The choice of stage and settings reads the
mean over the datasets left (each dataset once, however many speakers it has). Usage:

    python scripts/valid_report.py runs/stage8/mels shipped runs/stage8/a_s7/model.pt ... --valid-pct 0.1 --asnorm \\
        --out docs/results/valid.json
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from simple_speaker_embedding.asnorm import as_norm, cohort_stats
from simple_speaker_embedding.data import held_out_speakers, speaker_keys
from simple_speaker_embedding.hub import gru_embedder, load_checkpoint
from simple_speaker_embedding.metrics import eer
from simple_speaker_embedding.store import MelStore, base_speaker, load_manifest


def rows_mels(store:MelStore, rows) -> list:
    "Whole utterances of these store rows, as float32 tensors."
    return [torch.from_numpy(store.crops(np.array([r]), np.array([0]),
                                         int(store.lengths[r]))[0].astype(np.float32)) for r in rows]

def pick(man, speakers, per_speaker:int, seed:int=0, degraded:bool=False):
    "Store rows (speed 1) of these speakers, at most `per_speaker` each (a seeded draw): clean rows, or only degraded copies."
    base = speaker_keys(man).map(base_speaker)
    is_deg = (man.degrade.to_numpy(dtype=str) != '') if 'degrade' in man else np.zeros(len(man), bool)
    sub = man[base.isin(set(speakers)).to_numpy() & (man.speed.to_numpy() == 1) & (is_deg == degraded)]
    sub = sub.sample(frac=1, random_state=seed)
    return sub.groupby(speaker_keys(sub).to_numpy(), sort=True).head(per_speaker)

def dataset_eers(embs, speakers, datasets, stats=None) -> dict:
    """{dataset: (EER %, target pairs, impostor pairs, speakers)} over
    all pairs within each dataset (AS-norm when `stats` is given)."""
    out = {}
    for d in sorted(set(datasets)):
        idx = np.flatnonzero(datasets == d)
        i, j = np.triu_indices(len(idx), k=1); i, j = idx[i], idx[j]
        lab = (speakers[i] == speakers[j]).astype(int)
        s = np.einsum('nd,nd->n', embs[i], embs[j])
        if stats is not None: s = as_norm(s, (stats[0][i], stats[1][i]), (stats[0][j], stats[1][j]))
        n = (int(lab.sum()), int((1 - lab).sum()), len(set(speakers[idx])))
        out[d] = (100 * eer(s, lab)[0] if 0 < lab.sum() < len(lab) else None, *n)
    return out

def report(model, store, valid, cohort_rows, top_k:int, min_speakers:int) -> dict:
    embs = model.embed_mels(rows_mels(store, valid.index), progress=False).numpy()
    spk, ds = speaker_keys(valid).to_numpy(dtype=str), valid.dataset.to_numpy(dtype=str)
    res = {'cosine': dataset_eers(embs, spk, ds)}
    if cohort_rows is not None:
        ce = model.embed_mels(rows_mels(store, cohort_rows.index), progress=True).numpy()
        _, codes = np.unique(speaker_keys(cohort_rows).to_numpy(dtype=str), return_inverse=True)
        coh = np.stack([ce[codes == c].mean(0) for c in range(codes.max() + 1)])
        coh /= np.linalg.norm(coh, axis=1, keepdims=True)
        res['as-norm'] = dataset_eers(embs, spk, ds, cohort_stats(embs, coh, top_k))
    for kind in list(res):
        vals = [v[0] for v in res[kind].values() if v[0] is not None and v[3] >= min_speakers]
        res[kind]['mean'] = float(np.mean(vals))
    return res

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mels", help="the training mel store (`sse preprocess` output)")
    ap.add_argument("models", nargs="+", help="checkpoints, or 'shipped'")
    ap.add_argument("--valid-pct", type=float, default=0.1); ap.add_argument("--valid-seed", type=int, default=0)
    ap.add_argument("--per-speaker", type=int, default=20, help="held-out utterances per speaker at most")
    ap.add_argument("--min-speakers", type=int, default=4, help="datasets with fewer held-out speakers are left out of the mean")
    ap.add_argument("--asnorm", action="store_true", help="also AS-norm, against a cohort of the store's training speakers")
    ap.add_argument("--cohort-per-speaker", type=int, default=3); ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--degraded", action="store_true", help="validate on the held-out speakers' degraded copies (a store "
                    "made with `sse preprocess --degrade`) instead of their clean rows; the cohort stays clean")
    ap.add_argument("--out", default=None, help="JSON file for the numbers")
    a = ap.parse_args()
    man = load_manifest(a.mels); store = MelStore(man)
    held = held_out_speakers(man, a.valid_pct, a.valid_seed)
    valid = pick(man, held, a.per_speaker, degraded=a.degraded)
    if not len(valid): raise SystemExit(f"no {'degraded' if a.degraded else 'clean'} rows of held-out speakers in {a.mels}")
    base = speaker_keys(man).map(base_speaker)
    cohort_rows = pick(man, sorted(set(base) - set(held)), a.cohort_per_speaker) if a.asnorm else None
    cohort_note = f"; cohort {len(cohort_rows)} utterances" if a.asnorm else ""
    print(f"{len(held)} held-out speakers, {len(valid)} utterances{cohort_note}")
    out = {}
    for m in a.models:
        torch.manual_seed(0)
        model = (gru_embedder() if m == 'shipped' else load_checkpoint(m)).eval()
        out[m] = report(model, store, valid, cohort_rows, a.top_k, a.min_speakers)
        for kind, r in out[m].items():
            cells = '  '.join(f"{d} {v[0]:.2f}" + ('' if v[3] >= a.min_speakers else '*') if v[0] is not None else f"{d} n/a"
                              for d, v in r.items() if d != 'mean')
            print(f"{m} [{kind}] mean {r['mean']:.2f}  |  {cells}", flush=True)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(dict(valid_pct=a.valid_pct, valid_seed=a.valid_seed, per_speaker=a.per_speaker,
                                               min_speakers=a.min_speakers, degraded=a.degraded,
                                               held_out=sorted(held), models=out), indent=1))
