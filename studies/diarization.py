"""Diarization error rate on conversations built from dev speakers: ours vs Resemblyzer's partial embeddings.

    python studies/diarization.py ../shared/data/dev/* --cohort ../shared/data/train [--n 20] [--n-calib 10]
        [--speakers 2 3 4] [--model PATH] [--cosine] [--no-reseg] [--test-seed 4000] [--one-way] [--peer-both-ways]
        [--save results.csv]
    python studies/diarization.py --pool results.csv [more.csv ...]

For each dev set and each number of speakers, `--n` conversations (`synth_conversation`: 12 turns of 1-8 s, pauses, 15%
of turns overlapping, levels +-6 dB) are built with seeds `--test-seed`+ (the saved test runs in `docs/results/`: 3000+,
4000+, 5000+; 1000+ an earlier cv_en-only test, 2000 a smoke test; a new test: 6000+). Both embedders see the same
windows (1.5 s every 0.75 s for ours, forwards and played backwards as `sse diarize` does, `--one-way` for forwards
only; Resemblyzer's own 1.6-s partials every 0.75 s, no VAD so times stay true, `--peer-both-ways` to give it the
backward view too), the same silence mask, the same clustering, the same resegmentation (`resegment`, as `sse diarize`)
and the same segment rules; only the embeddings differ. The clustering scores window pairs with AS-norm (`sse diarize`'s
default for the shipped model): ours against the cohort the model ships (its training speakers), Resemblyzer against a
cohort built the same way from `--cohort` (mean embedding of up to 8 utterances per speaker, cached in `--peer-cohort`);
`--cosine` scores both with plain cosines instead. DER with a 0.25 s collar, pooled over conversations (total error /
total scored speech), per set and over all sets, with the number of speakers given and estimated, and the difference
ours - Resemblyzer with a 95% paired bootstrap interval over the conversations. The affinity pruning (which sets the
eigengap's speaker count and the spectral clustering) is chosen per embedder on other conversations (seeds 0+,
`--n-calib` per set and speaker count) from a grid, so neither is tuned on the test conversations (`--prune P` fixes
ours instead). `--save` writes every test conversation's result, `--pool` prints the tables of saved runs together (more
conversations, narrower intervals). Also prints `sse diarize`-style wall time for a long conversation.
"""
import argparse
import csv
import os
import time

import numpy as np
from conversations import synth_conversation

from simple_speaker_embedding.audio import SAMPLE_RATE as SR
from simple_speaker_embedding.audio import resample
from simple_speaker_embedding.diarize import (
    DIARIZE_COUNT_BELOW,
    DIARIZE_COUNT_NORM,
    DIARIZE_COUNT_NORM_BELOW,
    DIARIZE_MODEL,
    DIARIZE_SWITCH,
    Partials,
    cluster_windows,
    partial_embeddings,
    resegment,
    window_segments,
)
from simple_speaker_embedding.evaluate import make_cohort, resemblyzer_embedder
from simple_speaker_embedding.hub import resolve_model
from simple_speaker_embedding.metrics import der
from simple_speaker_embedding.vad import DIARIZE_VAD, VADS

GRID = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5)   # affinity pruning (`prune`)


def resemblyzer_partials(enc, y, ours: Partials, both_ways: bool = False) -> Partials:
    "Resemblyzer's partial embeddings at a 0.75-s hop (no VAD), with our silence mask; `both_ways`: also played backwards."
    import torch
    from resemblyzer import audio
    from resemblyzer.voice_encoder import sampling_rate as rsr
    wav = resample(y, SR, rsr)
    splits, mel_slices = enc.compute_partial_slices(len(wav), rate=1 / 0.75, min_coverage=0.5)   # as embed_utterance
    if splits[-1].stop >= len(wav): wav = np.pad(wav, (0, splits[-1].stop - len(wav)))
    mel = audio.wav_to_mel_spectrogram(wav)
    starts = np.array([s.start for s in splits]) / rsr; ends = np.array([s.stop for s in splits]) / rsr
    ends = np.minimum(ends, ours.duration)
    fr = lambda t: np.clip(np.round(t * ours.fps).astype(int), 0, len(ours.voiced))
    keep = np.array([ours.voiced[a:b].mean() >= 0.5 if b > a else False for a, b in zip(fr(starts), fr(ends))])
    mels = np.array([mel[m] for m, k in zip(mel_slices, keep) if k])
    with torch.no_grad():
        embs = enc(torch.from_numpy(mels).to(enc.device)).cpu().numpy()
        rev = enc(torch.from_numpy(mels[:, ::-1].copy()).to(enc.device)).cpu().numpy() if both_ways else None
    return Partials(starts[keep], ends[keep], embs, ours.voiced, ours.fps, rev)


def pooled(results):
    tot = sum(r['speech'] for r in results)
    return sum(r['der'] * r['speech'] for r in results) / tot


def diff_ci(a, b, n_boot=2000, seed=0):
    "Pooled DER of `a` minus that of `b` (paired per-conversation results) and its 95% bootstrap interval over conversations."
    da, db = np.array([r['der'] * r['speech'] for r in a]), np.array([r['der'] * r['speech'] for r in b])
    sp = np.array([r['speech'] for r in a])
    idx = np.random.default_rng(seed).integers(0, len(sp), (n_boot, len(sp)))
    d = (da[idx].sum(1) - db[idx].sum(1)) / sp[idx].sum(1)
    return (da.sum() - db.sum()) / sp.sum(), np.percentile(d, 2.5), np.percentile(d, 97.5)


COLUMNS = ['set', 'speakers', 'seed', 'embedder', 'prune', 'der_given', 'der_estimated', 'scored_speech', 'speakers_found']


def save(path, res):
    "Every test conversation's result, one CSV row per conversation and embedder (`--pool` reads them back)."
    with open(path, 'w', newline='') as f:
        out = csv.writer(f); out.writerow(COLUMNS)
        for (name, k, n), rows in res.items():
            for seed, t, g, e, found in rows: out.writerow([name, k, seed, n, t, g['der'], e['der'], g['speech'], found])


def load(paths):
    "The results of saved runs, pooled (conversations sorted by seed, so both embedders stay paired)."
    res = {}
    for path in paths:
        with open(path, newline='') as f:
            for row in csv.DictReader(f):
                sp = float(row['scored_speech'])
                res.setdefault((row['set'], int(row['speakers']), row['embedder']), []).append(
                    (int(row['seed']), float(row['prune']), dict(der=float(row['der_given']), speech=sp),
                     dict(der=float(row['der_estimated']), speech=sp), int(row['speakers_found'])))
    return {key: sorted(rows, key=lambda x: x[0]) for key, rows in res.items()}


def report(res):
    "Pooled DER per set and over all sets, K given and estimated, and ours - Resemblyzer with a paired bootstrap interval."
    sets, counts = list(dict.fromkeys(key[0] for key in res)), sorted({key[1] for key in res})
    names = [n for n in ('ours', 'resemblyzer') if any(key[2] == n for key in res)]
    for title, group in [(name, [name]) for name in sets] + [('all sets', sets)] * (len(sets) > 1):
        n_conv = sum(len(res.get((name, counts[0], names[0]), [])) for name in group)
        print(f"\n{title}: {n_conv} test conversations per count")
        print(f"{'speakers':>8}  {'embedder':<12} {'DER, K given':>12} {'DER, K estimated':>16} {'speakers found':>14}")
        for k in counts:
            pair = [[x for name in group for x in res[(name, k, n)]] for n in names]
            for n, rows in zip(names, pair):
                given, est = pooled([x[2] for x in rows]), pooled([x[3] for x in rows])
                print(f"{k:>8}  {n:<12} {100 * given:11.1f}% {100 * est:15.1f}% {np.mean([x[4] for x in rows]):14.1f}")
            if len(names) > 1:
                for j, mode in ((2, 'K given'), (3, 'K estimated')):
                    d, lo, hi = diff_ci(*[[x[j] for x in rows] for rows in pair])
                    print(f"{'':>8}  ours - resemblyzer, {mode}: {100 * d:+.2f} points (95% CI {100 * lo:+.2f} to "
                          f"{100 * hi:+.2f}, "
                          f"bootstrap over conversations)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs="*", help="dev folders of <speaker>/<clip> (one table each, and one over all)")
    ap.add_argument("--n", type=int, default=10, help="test conversations per number of speakers")
    ap.add_argument("--n-calib", type=int, default=10, help="calibration conversations per number of speakers")
    ap.add_argument("--speakers", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--model", default=None, help="our model: shipped name or checkpoint (default: DIARIZE_MODEL, sse diarize's)")
    ap.add_argument("--cohort", default=None, help="training speakers' audio: Resemblyzer's AS-norm cohort")
    ap.add_argument("--peer-cohort", default="runs/resemblyzer_cohort.npy", help="cache of Resemblyzer's cohort")
    ap.add_argument("--cosine", action="store_true", help="cluster on cosines for both, not AS-norm")
    ap.add_argument("--no-reseg", action="store_true", help="skip the resegmentation (`resegment`) for both")
    ap.add_argument("--test-seed", type=int, default=4000, help="first seed of the test conversations")
    ap.add_argument("--prune", type=float, default=None,
                    help="ours: this affinity pruning (e.g. `sse diarize`'s DIARIZE_PRUNE) instead of the calibrated one")
    ap.add_argument("--count-prune", type=float, default=None, help="pruning of the graph whose eigengap counts the "
                    "speakers (default: `sse diarize`'s, DIARIZE_COUNT_NORM_PRUNE or DIARIZE_COUNT_PRUNE)")
    ap.add_argument("--count-norm", action=argparse.BooleanOptionalAction, default=DIARIZE_COUNT_NORM,
                    help="count speakers on the AS-norm graph (`diarize`'s DIARIZE_COUNT_NORM is the default)")
    ap.add_argument("--count-below", type=lambda v: None if v == 'none' else float(v), default=DIARIZE_COUNT_BELOW,
                    help="count the graph's Laplacian eigenvalues under this ('none': its largest eigengap; default: "
                    "`diarize`'s DIARIZE_COUNT_BELOW)")
    ap.add_argument("--count-norm-below", type=lambda v: None if v == 'none' else float(v), default=DIARIZE_COUNT_NORM_BELOW,
                    help="and the AS-norm graph's eigenvalues under this, at most one more than the cosine count ('none': "
                    "the cosine count alone; default: `diarize`'s DIARIZE_COUNT_NORM_BELOW)")
    ap.add_argument("--one-way", action="store_true", help="ours: forward embeddings only (`both_ways=False`)")
    ap.add_argument("--vad", choices=VADS, default=DIARIZE_VAD, help="speech detector of the windows (`diarize`'s default)")
    ap.add_argument("--no-peer", action="store_true", help="ours only, even where Resemblyzer is installed")
    ap.add_argument("--peer-both-ways", action="store_true", help="Resemblyzer: also its windows played backwards")
    ap.add_argument("--save", default=None, help="CSV of every test conversation's result (to pool runs later)")
    ap.add_argument("--pool", nargs="+", default=None, metavar="CSV",
                    help="only print the tables of runs saved with --save, pooled")
    args = ap.parse_args()
    if args.pool: return report(load(args.pool))
    if not args.roots: ap.error("give dev folders (or --pool CSV ...)")
    model = resolve_model(args.model or DIARIZE_MODEL)
    try:
        if args.no_peer: raise ImportError
        from resemblyzer import VoiceEncoder
        enc = VoiceEncoder('cpu', verbose=False)
    except ImportError:
        enc = None; print("ours only" + ("" if args.no_peer else " (Resemblyzer not installed)"))
    names = ['ours'] + (['resemblyzer'] if enc else [])
    cohorts = {n: None for n in names}
    if not args.cosine:
        if model.cohort is None: ap.error("our model carries no cohort: use --cosine")
        cohorts['ours'] = model.cohort.numpy()
        if enc and os.path.exists(args.peer_cohort): cohorts['resemblyzer'] = np.load(args.peer_cohort)
        elif enc:
            if not args.cohort: ap.error("Resemblyzer needs a cohort for AS-norm: give --cohort DIR (or --cosine)")
            cohorts['resemblyzer'] = make_cohort(resemblyzer_embedder(), args.cohort)
            os.makedirs(os.path.dirname(args.peer_cohort) or '.', exist_ok=True)
            np.save(args.peer_cohort, cohorts['resemblyzer'])
    top_k = (model.meta or {}).get('asnorm_top_k', 100)
    def labels(n, w, k=None, prune=None):
        f = w[n].features
        lab = cluster_windows(f, k, prune=prune, cohort=cohorts[n], top_k=top_k, count_prune=args.count_prune,
                              count_norm=args.count_norm, count_below=args.count_below,
                              count_norm_below=args.count_norm_below)
        return lab if args.no_reseg else resegment(f, lab, DIARIZE_SWITCH)

    def windows(root, seed, k):
        y, ref = synth_conversation(root, n_speakers=k, seed=seed)
        p = partial_embeddings(model, y, sr=SR, both_ways=not args.one_way, vad=args.vad)
        return ref, {'ours': p, **({'resemblyzer': resemblyzer_partials(enc, y, p, args.peer_both_ways)} if enc else {})}

    calib = [(windows(r, s, k), k) for r in args.roots for k in args.speakers for s in range(args.n_calib)]
    th = {'ours': args.prune} if args.prune is not None else {}
    for n in [n for n in names if n not in th]:
        ders = [pooled([der(ref, window_segments(w[n], labels(n, w, prune=t))) for (ref, w), _ in calib]
                       + [der(ref, window_segments(w[n], labels(n, w, k, prune=t))) for (ref, w), k in calib]) for t in GRID]
        th[n] = float(GRID[int(np.argmin(ders))])
    print(f"{'cosine' if args.cosine else 'AS-norm'} affinities; pruning chosen on {len(calib)} calibration conversations "
          f"(K given and estimated): " + ", ".join(f"{n} {t:.2f}"
                                                   + (" (fixed by --prune)" if n == 'ours' and args.prune is not None else "")
                                                   for n, t in th.items()), flush=True)
    res = {}                                   # (set, k, embedder) -> [(seed, pruning, given, estimated, speakers found)]
    for r in args.roots:
        for k in args.speakers:
            for s in range(args.test_seed, args.test_seed + args.n):
                ref, w = windows(r, s, k)
                for n in names:
                    lab = labels(n, w, prune=th[n])
                    res.setdefault((os.path.basename(os.path.normpath(r)), k, n), []).append(
                        (s, th[n], der(ref, window_segments(w[n], labels(n, w, k, prune=th[n]))),
                         der(ref, window_segments(w[n], lab)),
                         lab.max() + 1))
    if args.save: save(args.save, res)
    report(res)
    y, _ = synth_conversation(args.roots[0], n_speakers=max(args.speakers), n_turns=40, seed=7)
    t0 = time.perf_counter()
    p = partial_embeddings(model, y, sr=SR, both_ways=not args.one_way, vad=args.vad)
    window_segments(p, labels('ours', {'ours': p}, prune=th['ours']))
    print(f"ours on a {len(y) / SR:.0f}-s conversation: {time.perf_counter() - t0:.1f} s (embedding + clustering)")


if __name__ == "__main__":
    main()
