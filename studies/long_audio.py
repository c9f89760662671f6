"""Long recordings: which way of embedding them scores best (issue 29's long-audio policy, measured before it changes)?

    python studies/long_audio.py [--dev DIR ...] [--k 4] [--model shipped]

For each dev set (speaker folders of clips), each speaker's clips are joined, with 0.3 s of silence between them,
into two long recordings of `k` different clips each (so a same-speaker trial never shares a clip). Trials are all
pairs of long recordings. Policies, all on the same recordings:
- default: silences trimmed, mels over 860 frames (10 s) cut into 430-frame windows at 50% overlap, averaged
  (what `embed_utterance` does today);
- whole: silences trimmed, one forward pass over the whole recording;
- untrimmed whole: the seed's `model(mel[None])` on the raw recording;
- windows of 215 / 860 frames (2.5 / 10 s) at 50% overlap, averaged.
Prints the recordings' durations and, per policy, the EER with cosine scores and with the model's AS-norm (its own
cohort); `--short` also scores the clips themselves (the dev sets as `sse eval` reads them) under each policy.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from simple_speaker_embedding.asnorm import as_norm, cohort_stats
from simple_speaker_embedding.audio import find_audio, load_audio
from simple_speaker_embedding.hub import resolve_model
from simple_speaker_embedding.metrics import eer

POLICIES = {  # name: (trim, max_frames, window)
    'default': (True, 860, 430), 'whole': (True, 10**9, 430), 'untrimmed whole': (False, 10**9, 430),
    'windows 215': (True, 215, 215), 'windows 860': (True, 860, 860),
}


def recordings(root:Path, k:int, sr:int) -> tuple:
    "Two long recordings of k clips each per speaker with at least 2k clips: (waveforms, speaker labels)."
    gap = np.zeros(int(0.3 * sr), np.float32)
    waves, labels = [], []
    for spk in sorted(p for p in root.iterdir() if p.is_dir()):
        clips = find_audio(spk)
        if len(clips) < 2 * k: continue
        for part in (clips[:k], clips[k:2 * k]):
            waves.append(np.concatenate([np.concatenate([load_audio(c, sr=sr)[0], gap]) for c in part]))
            labels.append(spk.name)
    return waves, np.asarray(labels)


def eers(model, embs:torch.Tensor, labels:np.ndarray) -> tuple:
    "EER (%) over all pairs: cosine, and AS-norm against the model's cohort (when it has one)."
    e = embs.numpy().astype(np.float64)
    i, j = np.triu_indices(len(e), 1)
    lab = (labels[i] == labels[j]).astype(int)
    cos = e @ e.T
    out = [100 * eer(cos[i, j], lab)[0]]
    if model.cohort is not None:
        k = model.meta.get('asnorm_top_k', 100)
        m, s = cohort_stats(e, model.cohort.numpy().astype(np.float64), k)
        z = as_norm(cos, (m[:, None], s[:, None]), (m[None], s[None]))
        out.append(100 * eer(z[i, j], lab)[0])
    return tuple(out), int(lab.sum()), int((1 - lab).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dev', nargs='+', default=['../shared/data/dev/cv_en', '../shared/data/dev/speechocean762'])
    ap.add_argument('--k', type=int, default=4, help='clips per long recording')
    ap.add_argument('--model', default='shipped')
    ap.add_argument('--short', action='store_true', help='also score the single clips under each policy')
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = resolve_model(a.model)
    sr = model.mel_hparams.sampling_rate
    for d in map(Path, a.dev):
        sets = [('long', *recordings(d, a.k, sr))]
        if a.short:
            clips = [c for spk in sorted(p for p in d.iterdir() if p.is_dir()) for c in find_audio(spk)]
            sets.append(('clips', [load_audio(c, sr=sr)[0] for c in clips], np.asarray([c.parent.name for c in clips])))
        for kind, waves, labels in sets:
            if len(set(labels)) < 2: print(f"\n{d.name}, {kind}: fewer than 2 speakers with {2 * a.k} clips, skipped"); continue
            dur = np.array([len(w) / sr for w in waves])
            print(f"\n{d.name}, {kind}: {len(waves)} recordings of {len(set(labels))} speakers, {dur.min():.1f}-{dur.max():.1f} "
                  "s "
                  f"(median {np.median(dur):.1f} s)")
            for name, (trim, max_frames, window) in POLICIES.items():
                embs = model.embed_files(waves, trim=trim, max_frames=max_frames, window_frames=window)
                (ec, *ez), nt, nn = eers(model, embs, labels)
                print(f"  {name:<16} EER cosine {ec:5.2f}%" + (f"   AS-norm {ez[0]:5.2f}%" if ez else "") + f"   ({nt} target / "
                      f"{nn} non-target)")


if __name__ == '__main__': main()
