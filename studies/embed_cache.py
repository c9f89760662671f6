"""Embed dev clips and cohort speakers once, for the decision-rule study (`studies/decision_rules.py`).

Writes `OUT/<name>.npz` per folder: for a dev folder every clip's unit embedding, its speaker and its speech length
in frames (after trimming); for a cohort folder (`<dataset>/<speaker>/<utt>` or `<speaker>/<utt>`) one mean embedding
per speaker (up to 8 utterances, as `make_cohort`) and its dataset. A folder already written is skipped. Usage:

    python studies/embed_cache.py OUT ../shared/data/dev/cv_en ... --cohort ../shared/data/train ../shared/data/train_few
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from simple_speaker_embedding.corpus import list_utterances
from simple_speaker_embedding.hub import gru_embedder, load_checkpoint


def embed_table(model, utts):
    "Unit embeddings and speech frames of the table's paths (clips too short or unreadable are dropped)."
    mels, keep = [], []
    for i, p in enumerate(utts.path):
        try: mels.append(model.melspec_from_file(p, trim=True)); keep.append(i)
        except Exception as e: print(f"skipped {p}: {e}", file=sys.stderr)
    embs = model.embed_mels(mels, progress=True).numpy()
    return utts.iloc[keep].reset_index(drop=True), embs, np.array([m.shape[0] for m in mels])

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out"); ap.add_argument("dev", nargs="*")
    ap.add_argument("--cohort", nargs="*", default=[])
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped weights)")
    ap.add_argument("--per-speaker", type=int, default=8)
    a = ap.parse_args()
    model = load_checkpoint(a.model) if a.model else gru_embedder()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    for d in a.dev:
        f = out / f"dev_{Path(d).name}.npz"
        if f.exists(): continue
        utts, e, n = embed_table(model, list_utterances(d))
        np.savez(f, emb=e, frames=n, speaker=utts.speaker.to_numpy().astype(str), path=utts.path.to_numpy().astype(str))
        print(f"{f}: {len(e)} clips")
    for root in a.cohort:
        for ds in sorted(p for p in Path(root).iterdir() if p.is_dir()):
            f = out / f"cohort_{Path(root).name}_{ds.name}.npz"
            if f.exists(): continue
            utts = list_utterances(ds).groupby('speaker', sort=True).head(a.per_speaker)
            utts, e, n = embed_table(model, utts)
            spk = utts.speaker.to_numpy().astype(str); names = np.unique(spk)
            means = np.stack([e[spk == s].mean(0) for s in names])
            means /= np.linalg.norm(means, axis=1, keepdims=True)
            np.savez(f, emb=means.astype(np.float32), speaker=names, n_utts=np.array([(spk == s).sum() for s in names]),
                     clip_emb=e, clip_speaker=spk, frames=n)
            print(f"{f}: {len(names)} speakers")
