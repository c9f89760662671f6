"""The first pipeline on the meeting bench: what `sse diarize` did when the meetings issue was filed.

    python studies/meetings_first_pipeline.py --n 8 --out docs/results/meetings_first_pipeline.json

The same meetings as `studies/meetings.py --n N` (same folders, seeds and rooms), diarized as before any of the meeting
work: the shipped stage-8 weights, the energy rule for speech (`voiced_frames`), speakers counted by the eigengap of the
cosine graph pruned at 0.3, clustering on AS-norm scores, resegmentation, no overlap labelling. Pooled DER and its
parts (collar 0, overlap counted) for the training-speaker and dev-speaker meetings, and for the first four of each
folder (`_n4`: the 12-meeting bench of the first release of the study).
"""
import argparse
import json
from pathlib import Path

import torch
from meetings import BANK_SEED, SR, merge, pool, run, synth_meeting

from simple_speaker_embedding.audio import melspec_from_array
from simple_speaker_embedding.degrade import room_bank
from simple_speaker_embedding.diarize import estimate_speakers, partial_embeddings, voiced_frames
from simple_speaker_embedding.hub import resolve_model

TRAIN = ['../shared/data/train/an4', '../shared/data/train/cv_fa', '../shared/data/train/cv_vi']
DEV = ['../shared/data/dev/cv_en', '../shared/data/dev/speechocean762', '../shared/data/dev/librispeech_halves']

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="+", default=TRAIN); ap.add_argument("--dev", nargs="+", default=DEV)
    ap.add_argument("--n", type=int, default=8, help="meetings per folder"); ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = resolve_model('shipped').eval()
    bank = room_bank(Path("runs/meetings_rooms.npz"), n=16, seed=BANK_SEED)
    out = {}
    for split, roots in (('train', a.train), ('dev', a.dev)):
        rows = []
        for j, r in enumerate(roots):
            for i in range(a.n):
                y, ref = synth_meeting(r, 1000 * (split == 'dev') + 10 * i + j, bank)
                p = partial_embeddings(model, y, sr=SR, mask=voiced_frames(melspec_from_array(y, SR, mel=model.mel)))
                o, _ = run(model, y, ref, None, [None], num_speakers=estimate_speakers(p.features, 10, 0.3), p=p)
                rows.append(dict(o['None'], speech=sum(e - s for s, e, _ in merge(ref)), i=float(i)))
        out[split] = pool(rows); out[split + '_n4'] = pool([r for r in rows if r['i'] < 4])
        for key in (split, split + '_n4'):
            print(key, {k: round(100 * v, 1) for k, v in out[key].items() if k not in ('speakers', 'i')}, flush=True)
    if a.out: Path(a.out).write_text(json.dumps(out, indent=1))
