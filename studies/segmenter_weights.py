"""Candidate segmenter weights on both diarization benches, before they ship: the 24 + 24 meetings of
`studies/meetings.py` (its `synth_meeting` seeds and rooms; its `run` with the shipped hysteresis, every overlap
threshold) and the clean conversations of `studies/track.py` (`sse diarize` as it runs, overlap at none / 0.3 / 0.4 /
0.5), the rest of the pipeline as shipped. The weights replace `vad.load_segmenter` for this process only.

    python studies/segmenter_weights.py runs/segmenter3/segmenter.pt docs/results/segmenter_longer_probe.json
"""
import itertools
import json
import sys
from pathlib import Path

import meetings as M
import numpy as np
import torch
from conversations import synth_conversation

import simple_speaker_embedding.diarize as D
from simple_speaker_embedding import vad as V
from simple_speaker_embedding.audio import melspec_from_array
from simple_speaker_embedding.hub import resolve_model
from simple_speaker_embedding.metrics import der

torch.set_num_threads(1)
wpath, dest = sys.argv[1], sys.argv[2]
seg = V.Segmenter(); seg.load_state_dict(torch.load(wpath, weights_only=True)); seg.eval()
V.load_segmenter = lambda: seg                 # `speaker_counts` (and so `diarize`) look it up when called
model = resolve_model(D.DIARIZE_MODEL).eval()
bank = M.room_bank(Path("runs/meetings_rooms.npz"), n=16, seed=M.BANK_SEED)
tr = ['../shared/data/train/an4', '../shared/data/train/cv_fa', '../shared/data/train/cv_vi']
dv = ['../shared/data/dev/cv_en', '../shared/data/dev/speechocean762', '../shared/data/dev/librispeech_halves']
meet = {split: [M.synth_meeting(r, 1000 * (split == 'dev') + 10 * i + j, bank) for j, r in enumerate(roots) for i in range(8)]
        for split, roots in (('train', tr), ('dev', dv))}
out = {}
for split, ms in meet.items():
    rows = {}; det = []
    for y, ref in ms:
        mel = melspec_from_array(y, M.SR, mel=model.mel); c = V.speaker_counts(mel)
        mk = V.counts_mask(c, fps=M.FPS)
        sp = sum(e - s for s, e, _ in M.merge(ref))
        det.append(dict(zip(('detection_error', 'miss', 'fa'), M.detection_error(ref, mk, M.FPS)), speech=sp))
        r, _ = M.run(model, y, ref, mk, (None, 0.2, 0.3, 0.4, 0.5), counts=c)
        for t, v in r.items(): rows.setdefault(t, []).append(dict(v, speech=sp))
    out[split] = dict(detection=M.pool(det), overlap={t: M.pool(v) for t, v in rows.items()})
    print(split, f"detection {100*out[split]['detection']['detection_error']:.1f}", flush=True)
    for t, v in out[split]['overlap'].items():
        print(f"  {split} ov {t:5s} DER {100*v['der']:.1f} (miss {100*v['miss']:.1f} fa {100*v['false_alarm']:.1f} "
              f"conf {100*v['confusion']:.1f}) both {100*v['overlap_recall']:.1f} fo {100*v['false_overlap']:.1f}", flush=True)
sets = [('train', '../shared/data/train/an4'), ('train', '../shared/data/train/cv_fa'), ('train', '../shared/data/train/cv_vi'),
        ('dev', '../shared/data/dev/cv_en'), ('dev', '../shared/data/dev/speechocean762'),
        ('dev', '../shared/data/dev/librispeech_halves')]
conv = {}
for role, root in sets:
    seed0 = 0 if role == 'train' else 500
    for k, s in itertools.product((2, 3), range(seed0, seed0 + 10)):
        y, ref = synth_conversation(root, n_speakers=k, seed=s, sr=M.SR)
        for ov in (None, 0.3, 0.4, 0.5):
            hyp = D.diarize(model, y, sr=M.SR, overlap=ov if ov else None)
            conv.setdefault(str(ov), {}).setdefault(Path(root).name, []).append(der(ref, hyp)['der'])
    print(root, {ov: round(100 * np.mean(v[Path(root).name]), 1) for ov, v in conv.items()}, flush=True)
out['conversations'] = {ov: {k: float(np.mean(x)) for k, x in v.items()} for ov, v in conv.items()}
Path(dest).write_text(json.dumps(out, indent=1))
