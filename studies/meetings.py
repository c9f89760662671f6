"""Meetings that look like real ones: who spoke when with a speech detector, overlapped speech and standard scoring.

    python studies/meetings.py --train ../shared/data/train/an4 ../shared/data/train/cv_fa ../shared/data/train/cv_vi \\
        --dev ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 ../shared/data/dev/librispeech_halves \\
        --n 6 [--peer] --out docs/results/meetings.json

Each meeting (`synth_meeting`, seeded) has 2-5 people of one speaker folder, each heard far from the microphone in a
simulated room (their own position: a room of a bank simulated with another seed than the training store's), at their
own level (+-6 dB); turns of 1-6 s with pauses of 0.3-2 s, the next turn starting before the previous one ends (by 0.5-2
s) in 35% of the turns, short back-channels (0.3-1 s, "yeah") of another person inside half of the turns, steady
background noise (coloured, 10-20 dB below the speech) throughout and a few noise bursts (a door, a keyboard) in the
pauses. The reference is where each placed clip is not silent before the room and the noise (within 30 dB of its loudest
frame; pauses under 0.3 s bridged), as turns of its speaker.

The pipeline is `diarize`'s with the number of speakers estimated; scored with pyannote.metrics (collar 0, overlapped
speech counted): DER and its parts, JER; the speech detector's error (missed + false alarm over the reference speech,
pyannote's DetectionErrorRate); and of the overlapped reference speech, the share labelled with both of its speakers,
and false overlap (hypothesis overlap where the reference has one speaker or none) as a share of the speech.
Settings are chosen on the *training-speaker* meetings and reported on the dev ones: webrtcvad's padding, Silero's and
the segmenter's hysteresis and padding by their detection error, then the detector (energy / that webrtcvad / that
Silero / that segmenter) by DER, then the overlap threshold that labels the most overlapped speech with both speakers
while false overlap stays under 5% of speech (none, or: a cosine to the second speaker's centroid; with the segmenter,
its probability of two or more voices; the lowest-DER threshold under the same cap is printed beside). The segmenter
(`vad.Segmenter`, `scripts/train_segmenter.py`) was trained on meetings of this generator made from other training
folders (not an4, cv_fa, cv_vi) in other rooms, and on clean conversations of those folders: these meetings are in its
training distribution, real ones are not.
Every mask is made as `diarize` makes it (`vad.speech_mask`'s probabilities, hysteresis and padding;
`vad.counts_mask`).
`--peer`: Resemblyzer's partial embeddings through the same pipeline (the chosen detector's mask).
`--counts`: the speaker-count rules compared on the chosen detector at every overlap threshold (`count_rules`), with the
true count as a bound; the rule with the lowest training DER at the chosen threshold is printed (`summary['joint']`).
`--model`: the embedder (default: `sse diarize`'s, `DIARIZE_MODEL`).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import scipy.signal as ss

from simple_speaker_embedding.asnorm import asnorm_cohort
from simple_speaker_embedding.audio import SAMPLE_RATE, load_audio, nonsilent_intervals, trim_silence
from simple_speaker_embedding.corpus import list_utterances
from simple_speaker_embedding.degrade import coloured_noise, room_bank
from simple_speaker_embedding.diarize import (
    DIARIZE_COUNT_BELOW,
    DIARIZE_COUNT_PRUNE,
    DIARIZE_MODEL,
    DIARIZE_PRUNE,
    DIARIZE_SWITCH,
    cluster_windows,
    estimate_speakers,
    overlap_segments,
    partial_embeddings,
    resegment,
    window_segments,
)
from simple_speaker_embedding.hub import resolve_model
from simple_speaker_embedding.metrics import der
from simple_speaker_embedding.vad import counts_mask, mask_from_probs, speaker_counts, speech_probs

SR = SAMPLE_RATE
FPS = SR / 256
BANK_SEED = 2                                 # the training store's rooms: seed 0; degraded_dev's: 1
OVERLAPS = (None, 0.5, 0.6, 0.7, 0.8)        # overlap thresholds tried (cosine to the second speaker's centroid)
VAD_GRID = [(on, off, pad) for on, off in ((0.5, 0.35), (0.3, 0.2)) for pad in (0.0, 0.1, 0.2)]   # Silero settings tried
WEBRTC_PADS = (0.0, 0.05, 0.1)                # webrtcvad's padding tried (its hysteresis: the shipped VAD_ON/VAD_OFF)
SEG_GRID = [(on, off, pad) for on, off in ((0.4, 0.3), (0.5, 0.35), (0.6, 0.45), (0.7, 0.5))   # the segmenter's settings tried
            for pad in (0.0, 0.05)]
SEG_OVERLAPS = (None, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)   # its overlap thresholds tried (p of two or more voices)


def synth_meeting(root, seed:int, bank:dict, n_speakers=None, minutes:float=0.75):
    "A seeded meeting of `root`'s speakers: `(waveform at SR, reference segments)`."
    rng = np.random.default_rng(seed)
    by_spk = {s: list(g.path) for s, g in list_utterances(root).groupby('speaker', sort=True)}
    names = sorted(by_spk); k = n_speakers or int(rng.integers(2, 6))
    who = [names[i] for i in rng.choice(len(names), min(k, len(names)), replace=False)]
    pool = {s: [trim_silence(load_audio(c, sr=SR)[0]) for c in rng.permutation(by_spk[s])[:12]] for s in who}
    room = {s: bank['rirs'][int(rng.integers(len(bank['rirs'])))] for s in who}
    gain = {s: 10 ** (rng.uniform(-6, 6) / 20) for s in who}
    def clip(s, lo, hi):                       # a stretch of speaker s, lo-hi s long (clips joined)
        want = int(rng.uniform(lo, hi) * SR); x = np.concatenate(pool[s]); a = int(rng.integers(max(1, len(x) - want)))
        y = x[a:a + want]; return y / (np.sqrt(np.mean(y ** 2)) + 1e-9) * 0.05 * gain[s]
    placed, t, prev, total = [], 1.0, None, minutes * 60
    while t < total:
        s = str(rng.choice([w for w in who if w != prev])) if len(who) > 1 else who[0]
        y = clip(s, 1, 6)
        start = max(0.5, t - rng.uniform(0.5, 2.0)) if prev and rng.random() < 0.35 else t + rng.uniform(0.3, 2.0)
        placed.append((start, s, y))
        if len(who) > 1 and rng.random() < 0.5:   # a back-channel of another person inside this turn
            b = str(rng.choice([w for w in who if w != s])); yb = clip(b, 0.3, 1.0)
            placed.append((start + rng.uniform(0, max(0.01, len(y) / SR - len(yb) / SR)), b, yb))
        t, prev = max(t, start + len(y) / SR), s
    n = int((t + 1.0) * SR); mix = np.zeros(n + SR * 3, np.float32); ref = []
    for start, s, y in placed:
        wet = ss.fftconvolve(y, room[s])[:len(y) + len(room[s]) // 2].astype(np.float32)
        a = int(start * SR); mix[a:a + len(wet)] += wet[:len(mix) - a]
        spans = []                                  # the reference: where the dry clip is not
                                                    # silent (30 dB), pauses < 0.3 s bridged
        for u, v in nonsilent_intervals(y, top_db=30) / SR:
            if spans and u - spans[-1][1] < 0.3: spans[-1][1] = v
            else: spans.append([u, v])
        ref += [(start + u, start + v, s) for u, v in spans if v - u >= 0.05]
    mix = mix[:n]
    speech_rms = np.sqrt(np.mean(np.concatenate([y for *_, y in placed]) ** 2))
    bg = coloured_noise(n, float(rng.uniform(0, 2)), rng)
    bg *= speech_rms / np.sqrt(np.mean(bg ** 2)) * 10 ** (-rng.uniform(10, 20) / 20)
    mix += bg
    busy = np.zeros(n, bool)
    for start, _, y in placed: busy[int(start * SR):int(start * SR) + len(y)] = True
    quiet = np.flatnonzero(~busy[:-SR // 2])
    for _ in range(int(rng.integers(3, 7))):   # noise bursts in the pauses
        if not len(quiet): break
        a = int(rng.choice(quiet)); L = int(rng.uniform(0.05, 0.3) * SR)
        burst = rng.standard_normal(L).astype(np.float32) * np.exp(-np.arange(L) / (0.3 * L)).astype(np.float32)
        mix[a:a + L] += burst[:len(mix) - a] * speech_rms * 10 ** (rng.uniform(-10, 0) / 20)
    return (mix / max(1.0, float(np.abs(mix).max()) / 0.9)).astype(np.float32), sorted(ref)


def overlap_scores(ref, hyp, step=0.01):
    """Of the reference's overlapped speech: the share with both its
    speakers in the hypothesis (best mapping); false overlap / speech."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    from simple_speaker_embedding.metrics import _annotation
    mapping = DiarizationErrorRate().optimal_mapping(_annotation(ref), _annotation(hyp))   # hyp label -> ref label
    end = max(e for _, e, _ in ref + hyp); n = int(end / step) + 1
    R = {s: np.zeros(n, bool) for *_, s in ref}; H = {}
    for a, b, s in ref: R[s][int(a / step):int(b / step)] = True
    for a, b, s in hyp:
        m = mapping.get(s, f"?{s}"); H.setdefault(m, np.zeros(n, bool))[int(a / step):int(b / step)] = True
    nR = sum(R.values()).astype(int); nH = sum(H.values()).astype(int) if H else np.zeros(n, int)
    ov = nR >= 2
    both = np.zeros(n, bool)
    if ov.any():
        got = np.stack([H.get(s, np.zeros(n, bool)) & R[s] for s in R])    # ref speakers found at each frame
        both = ov & (got.sum(0) >= 2)
    speech = max((nR > 0).sum(), 1)
    return float(both.sum() / max(ov.sum(), 1)), float(((nH >= 2) & (nR < 2)).sum() / speech), float(ov.sum() / speech)


def detection_error(ref, mask, fps):
    "pyannote's DetectionErrorRate (collar 0) of a speech mask: (missed + false alarm) / reference speech, and its parts."
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.detection import DetectionErrorRate

    from simple_speaker_embedding.diarize import _runs
    R = Annotation(); H = Annotation()
    for i, (a, b, _) in enumerate(ref): R[Segment(a, b), i] = 'speech'
    for i, (a, b, l) in enumerate(_runs(mask.astype(int))):
        if l: H[Segment(a / fps, b / fps), i] = 'speech'
    d = DetectionErrorRate()(R, H, detailed=True)
    return d['detection error rate'], d['miss'] / d['total'], d['false alarm'] / d['total']


def masks(model, y, vad_grid):
    """Speech masks of one meeting at the mel frame rate, as `diarize` makes them (`vad.speech_mask`): the energy rule,
    webrtcvad at each padding of `WEBRTC_PADS`, Silero at each `(on, off, pad_s)` of the grid, the segmenter at each of
    `SEG_GRID` (`vad.counts_mask`); and the segmenter's probabilities (key 'counts')."""
    from simple_speaker_embedding.audio import melspec_from_array
    from simple_speaker_embedding.diarize import voiced_frames
    mel = melspec_from_array(y, SR, mel=model.mel); n, fps = mel.shape[0], model.mel_hparams.frames_per_second()
    probs, web, counts = speech_probs(y, SR), speech_probs(y, SR, 'webrtc'), speaker_counts(mel)
    out = dict(energy=voiced_frames(mel), counts=counts)
    for on, off, pad in SEG_GRID: out[f"segmenter {on}/{off} pad {pad}"] = counts_mask(counts, on, off, pad, fps)
    for pad in WEBRTC_PADS: out[f"webrtc pad {pad}"] = mask_from_probs(web, n, fps, pad_s=pad)
    for on, off, pad in vad_grid: out[f"silero {on}/{off} pad {pad}"] = mask_from_probs(probs, n, fps, on, off, pad)
    return out


def run(model, y, ref, mask, overlaps, num_speakers=None, p=None, counts=None):
    """DER etc. of one meeting with one speech mask, for each overlap threshold (the windows embedded once, or `p` if
    given); `num_speakers` None: counted as `diarize` counts them. `counts`: the segmenter's probabilities (its overlap
    thresholds are then probabilities, as in `diarize`)."""
    p = partial_embeddings(model, y, sr=SR, mask=mask, counts=counts) if p is None else p
    cohort, top_k = asnorm_cohort(model)
    labels = cluster_windows(p.features, num_speakers, None, prune=DIARIZE_PRUNE, cohort=cohort, top_k=top_k)
    labels = resegment(p.features, labels, DIARIZE_SWITCH)
    segs = window_segments(p, labels)
    out = {}
    for t in overlaps:
        hyp = sorted(segs + (overlap_segments(p, labels, t, turns=segs) if t is not None else []))
        d = der(ref, hyp, collar=0)
        rec, false_ov, ov_share = overlap_scores(ref, hyp)
        out[str(t)] = dict(d, overlap_recall=rec, false_overlap=false_ov, overlap_share=ov_share,
                           speakers=float(len({s for *_, s in hyp})))
    return out, p


COUNT_RULES = ([('cosine', c, None) for c in (0.1, 0.2, 0.3, 0.5)] + [('as-norm', c, None) for c in (0.1, 0.2, 0.3, 0.5, 0.7)]
               + [('cosine', 0.2, b) for b in (0.15, 0.2, 0.25, 0.3, 0.35)]    # graph, pruning, eigenvalues counted under
               + [('as-norm', 0.2, b) for b in (0.2, 0.25, 0.3)]
               + [('as-norm capped', 0.2, b) for b in (0.15, 0.2, 0.25)])   # at most one over `diarize`'s cosine count


def count_rules(model, meetings, partials, overlaps):
    """DER of every meeting with the speakers counted by each rule of `COUNT_RULES` (the eigengap of the cosine graph
    or of the AS-norm graph the clustering uses, at a pruning, or the number of its Laplacian's eigenvalues under a value;
    'capped': at most one more than `diarize`'s cosine count; `diarize` counts the eigenvalues of the cosine graph
    at `DIARIZE_COUNT_PRUNE` under `DIARIZE_COUNT_BELOW`, capped by `DIARIZE_COUNT_NORM_BELOW`), and with the true
    count (a bound, not a rule), at each overlap threshold of `overlaps`:
    `{rule: {threshold: {split: pooled}}}`. `partials`: the chosen detector's embedded windows of each meeting,
    `{split: [Partials]}` (`run`'s)."""
    cohort, top_k = asnorm_cohort(model); res = {}
    for split, ms in meetings.items():
        rows = {}
        for (name, i, y, ref), p in zip(ms, partials[split]):
            ks = {f"{g} {c}" + (f" under {b}" if b else ""):
                  estimate_speakers(p.features, 10, c, below=b, **(dict(cohort=cohort, top_k=top_k) if g != 'cosine' else {}))
                  for g, c, b in COUNT_RULES}
            cos = estimate_speakers(p.features, 10, DIARIZE_COUNT_PRUNE, below=DIARIZE_COUNT_BELOW)   # as `diarize` caps
            ks.update({k: min(v, cos + 1) for k, v in ks.items() if k.startswith('as-norm capped')})
            ks['true count'] = len({s for *_, s in ref})
            for rule, k in ks.items():
                out, _ = run(model, y, ref, None, overlaps, num_speakers=k, p=p)
                for t, r in out.items(): rows.setdefault(rule, {}).setdefault(t, []).append(r)
        for rule, by_t in rows.items():
            for t, r in by_t.items(): res.setdefault(rule, {}).setdefault(t, {})[split] = pool(r)
    return res


def merge(segs):
    "The union of segments as non-overlapping `(start, end, '')`."
    out = []
    for a, b, _ in sorted(segs):
        if out and a <= out[-1][1]: out[-1] = (out[-1][0], max(out[-1][1], b), '')
        else: out.append((a, b, ''))
    return out


def pool(rows):
    "Totals over meetings: each rate weighted by the meeting's reference speech."
    w = np.array([r['speech'] for r in rows]); keys = [k for k in rows[0] if isinstance(rows[0][k], float) and k != 'speech']
    return {k: float(np.sum([r[k] * wi for r, wi in zip(rows, w)]) / w.sum()) for k in keys}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="+", required=True, help="speaker folders of training speakers (the choices are made here)")
    ap.add_argument("--dev", nargs="+", required=True, help="speaker folders of dev speakers (reported)")
    ap.add_argument("--n", type=int, default=8, help="meetings per folder"); ap.add_argument("--model", default=DIARIZE_MODEL)
    ap.add_argument("--minutes", type=float, default=0.75); ap.add_argument("--peer", action="store_true")
    ap.add_argument("--counts", action="store_true", help="also compare the speaker-count rules (COUNT_RULES)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    model = resolve_model(a.model).eval()
    bank = room_bank(Path("runs/meetings_rooms.npz"), n=16, seed=BANK_SEED)
    meetings = {split: [(Path(r).name, i, *synth_meeting(r, 1000 * (split == 'dev') + 10 * i + j, bank, minutes=a.minutes))
                        for j, r in enumerate(roots) for i in range(a.n)]
                for split, roots in (('train', a.train), ('dev', a.dev))}
    for split, ms in meetings.items():
        ov = np.mean([overlap_scores(ref, ref)[2] for *_, ref in ms])
        print(f"{split}: {len(ms)} meetings, {sum(len({s for *_, s in ref}) for *_, ref in ms) / len(ms):.1f} speakers and "
              f"{sum(y.shape[0] for _, _, y, _ in ms) / SR / len(ms):.0f} s each, overlapped speech {100 * ov:.1f}% of speech",
              flush=True)
    M = {split: [masks(model, y, VAD_GRID) for _, _, y, _ in ms] for split, ms in meetings.items()}
    C = {split: [mk.pop('counts') for mk in M[split]] for split in M}
    det = {split: {k: pool([dict(zip(('detection_error', 'vad_miss', 'vad_false_alarm'), detection_error(ref, mk[k], FPS)),
                                 speech=sum(e - s for s, e, _ in merge(ref))) for (*_, ref),
                                 mk in zip(meetings[split], M[split])])
                   for k in M[split][0]} for split in meetings}
    for k in det['train']:
        print(f"{k:26s} speech detection error: train {100 * det['train'][k]['detection_error']:.1f}% (miss "
              f"{100 * det['train'][k]['vad_miss']:.1f}, fa {100 * det['train'][k]['vad_false_alarm']:.1f}), dev "
              f"{100 * det['dev'][k]['detection_error']:.1f}%", flush=True)
    best = lambda kind: min((k for k in det['train'] if k.startswith(kind)), key=lambda k: det['train'][k]['detection_error'])
    res, parts = {}, {}
    thresholds = lambda k: SEG_OVERLAPS if k.startswith('segmenter') else OVERLAPS
    for k in ('energy', best('webrtc'), best('silero'), best('segmenter')):
        for split, ms in meetings.items():
            rows = {str(t): [] for t in thresholds(k)}
            for (name, i, y, ref), mk, c in zip(ms, M[split], C[split]):
                out, p = run(model, y, ref, mk[k], thresholds(k), counts=c if k.startswith('segmenter') else None)
                for t, r in out.items(): rows[t].append(r)
                parts.setdefault(k, {}).setdefault(split, []).append(p)
            res.setdefault(k, {})[split] = dict(detection=det[split][k], overlap={t: pool(r) for t, r in rows.items()})
    vad = min(res, key=lambda k: res[k]['train']['overlap']['None']['der'])     # the detector: by training DER (no overlap)
    ok = [t for t in map(str, thresholds(vad)) if res[vad]['train']['overlap'][t]['false_overlap'] < 0.05]
    # the threshold that labels the most overlapped speech with both speakers while false overlap stays under 5% of speech
    t_best = max(ok, key=lambda t: res[vad]['train']['overlap'][t]['overlap_recall'])
    t_der = min(ok, key=lambda t: res[vad]['train']['overlap'][t]['der'])
    print(f"chosen on training meetings: detector {vad}, overlap threshold {t_best} (lowest DER: {t_der})")
    for k in res:
        for t in map(str, thresholds(k)):
            for split in ('train', 'dev'):
                r = res[k][split]['overlap'][t]
                print(f"  {k} overlap {t:>4s} {split:5s}: DER {100 * r['der']:.1f}% (miss {100 * r['miss']:.1f}, fa "
                      f"{100 * r['false_alarm']:.1f}, "
                      f"conf {100 * r['confusion']:.1f}), JER {100 * r['jer']:.1f}%, overlap labelled with both "
                      f"{100 * r['overlap_recall']:.1f}%, "
                      f"false overlap {100 * r['false_overlap']:.1f}% of speech, speakers {r['speakers']:.1f}", flush=True)
    if a.counts:
        counted = count_rules(model, meetings, parts[vad], [None if t == 'None' else float(t) for t in map(str, thresholds(vad))])
        for rule, by_t in counted.items():
            for t, r in by_t.items():
                tr, dv = ({k: 100 * v for k, v in r[x].items()} for x in ('train', 'dev'))
                print(f"  count by {rule:12s} overlap {t:>4s}: DER train {tr['der']:.1f}% (conf {tr['confusion']:.1f}, "
                      f"speakers {tr['speakers'] / 100:.2f}, both {tr['overlap_recall']:.1f}%, false overlap "
                      f"{tr['false_overlap']:.1f}%), dev {dv['der']:.1f}% (miss {dv['miss']:.1f}, fa {dv['false_alarm']:.1f}, "
                      f"conf {dv['confusion']:.1f}, speakers {dv['speakers'] / 100:.2f}, both {dv['overlap_recall']:.1f}%, "
                      f"false overlap {dv['false_overlap']:.1f}%)", flush=True)
        res['counts'] = counted
        rule = min((r for r in counted if r != 'true count'), key=lambda r: counted[r][t_best]['train']['der'])
        print(f"count rule chosen on training meetings (lowest DER at overlap {t_best}): {rule}; dev DER "
              f"{100 * counted[rule][t_best]['dev']['der']:.1f}%", flush=True)
        joint = dict(count=rule, overlap=t_best, dev=counted[rule][t_best]['dev'], train=counted[rule][t_best]['train'])
    summary = dict(chosen=dict(vad=vad, overlap=t_best), before=res['energy']['dev']['overlap']['None'],
                   before_detection=res['energy']['dev']['detection'], after=res[vad]['dev']['overlap'][t_best],
                   after_detection=res[vad]['dev']['detection'])
    if a.counts: summary['joint'] = joint
    if a.peer:
        from resemblyzer import VoiceEncoder

        from simple_speaker_embedding.evaluate import resemblyzer_embedder  # noqa: F401 -- (checks the package)
        sys.path.insert(0, str(Path(__file__).parent))
        from diarization import resemblyzer_partials
        enc = VoiceEncoder('cpu', verbose=False); peer = {}
        for v, t in (('energy', 'None'), (vad, t_best)):
            rows = []
            for (name, i, y, ref), p in zip(meetings['dev'], parts[v]['dev']):   # our windows' times and mask
                pp = resemblyzer_partials(enc, y, p, both_ways=True); pp.counts = p.counts
                labels = resegment(pp.features, cluster_windows(pp.features, None, None, prune=DIARIZE_PRUNE), DIARIZE_SWITCH)
                turns = window_segments(pp, labels)
                hyp = sorted(turns + (overlap_segments(pp, labels, float(t), turns=turns) if t != 'None' else []))
                rows.append(dict(der(ref, hyp, collar=0),
                                 **dict(zip(('overlap_recall', 'false_overlap', 'overlap_share'), overlap_scores(ref, hyp)))))
            peer[f"{v}/{t}"] = pool(rows)
            print(f"Resemblyzer partials, {v}, overlap {t}, dev: DER {100 * peer[f'{v}/{t}']['der']:.1f}%", flush=True)
        summary['resemblyzer'] = peer
    print(json.dumps(summary, indent=1))
    if a.out: Path(a.out).write_text(json.dumps(dict(summary=summary, results=res, n=a.n, minutes=a.minutes,
                                                    train=a.train, dev=a.dev), indent=1))


if __name__ == "__main__":
    main()
