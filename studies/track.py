"""Live speaker tracking (`SpeakerTracker`, `sse listen`): how close to the offline `diarize`, and which online rule.

Two- and three-speaker conversations (`synth_conversation`) are streamed through a tracker in 0.1-s chunks; each
window it decides (start, end, features) is recorded, and every setting of the online rule (`threshold` x `confirm`)
is replayed on those windows. The setting is chosen on conversations of TRAINING speakers (an4, cv_fa, cv_vi: no dev
speaker); conversations of dev speakers and the repository's fixture conversation report what it gives. The offline
`diarize` as `sse diarize` runs it (its model `DIARIZE_MODEL`, detector and count) is measured on the same
conversations (`--offline-only`: only that).

    python studies/track.py --train ../shared/data/train/an4 ../shared/data/train/cv_fa ../shared/data/train/cv_vi \\
        --dev ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 ../shared/data/dev/librispeech_halves \\
        --n 10 --out docs/results/track.json
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from conversations import synth_conversation

from simple_speaker_embedding.audio import SAMPLE_RATE as SR
from simple_speaker_embedding.audio import load_audio
from simple_speaker_embedding.diarize import DIARIZE_MODEL, diarize, read_rttm
from simple_speaker_embedding.hub import gru_embedder, resolve_model
from simple_speaker_embedding.metrics import der
from simple_speaker_embedding.track import TRACK_CONFIRM, TRACK_NEW, SpeakerTracker
from simple_speaker_embedding.vad import STREAM_VAD, STREAM_VADS

THRESHOLDS = {'as-norm': (-0.5, 0.0, 0.5, 1.0, 1.5, 2.0), 'cosine': (0.3, 0.4, 0.5, 0.6)}
CONFIRMS = (1, 2, 3)
FIXTURE = Path(__file__).parents[1] / "tests" / "conversation" / "three_speakers.ogg"

def record(model, y, sr, chunk=0.1, vad=STREAM_VAD):
    """Stream `y` through a tracker; the windows it decided `(start, end, features)`, its frame energies and speech
    mask (`(db, speech)`), the seconds it took."""
    t, seen = SpeakerTracker(model, vad=vad), []
    real = t._decide
    t._decide = lambda s, e, f: seen.append((s, e, f)) or real(s, e, f)
    n, t0 = int(sr * chunk), time.perf_counter()
    for i in range(0, len(y), n): t.push(y[i:i + n], sr)
    t.end()
    return seen, (t.db, t.speech), time.perf_counter() - t0

def replay(model, windows, heard, threshold, confirm, cohort=True, vad=STREAM_VAD):
    "The segments a tracker with this rule makes of recorded windows (`heard`: `record`'s energies and speech mask)."
    t = SpeakerTracker(model, threshold=threshold, confirm=confirm, vad=vad)
    if not cohort: t.cohort = None
    for s, e, f in windows: t._decide(s, e, f)
    t._flush(); t.db, t.speech = heard
    return t.segments(), len(t.names)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="+", required=True); ap.add_argument("--dev", nargs="+", default=[])
    ap.add_argument("--n", type=int, default=10, help="conversations per set and speaker count")
    ap.add_argument("--vad", choices=STREAM_VADS, default=STREAM_VAD, help="speech detector of the tracker")
    ap.add_argument("--offline-only", action="store_true", help="only the offline `diarize` rows (as `sse diarize` runs)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, offline_model = gru_embedder(), resolve_model(DIARIZE_MODEL)     # `sse listen`'s and `sse diarize`'s
    convs = {}
    for role, roots, seed0 in (("train", a.train, 0), ("dev", a.dev, 500)):
        for root in roots:
            convs[(role, Path(root).name)] = [synth_conversation(root, n_speakers=k, seed=s, sr=SR) + (SR,)
                                             for k in (2, 3) for s in range(seed0, seed0 + a.n)]
    y, sr = load_audio(FIXTURE)
    convs[("fixture", FIXTURE.stem)] = [(y, read_rttm(FIXTURE.with_suffix(".rttm")), sr)]
    rec, offline, secs, audio = {}, {}, 0.0, 0.0
    for key, rows in convs.items():
        rec[key] = []
        for y, ref, sr in rows:
            if a.offline_only: continue
            w, db, dt = record(model, y, sr, vad=a.vad); secs += dt; audio += len(y) / sr
            rec[key].append((w, db, ref))
        offline[key] = float(np.mean([der(ref, diarize(offline_model, y, sr=sr))["der"] for y, ref, sr in rows]))
        print(f"{key}: {len(rows)} conversations, offline diarize DER {offline[key]:.3f}", flush=True)
    res = {"real_time_factor": secs / max(audio, 1e-9), "offline_der": {"|".join(k): v for k, v in offline.items()},
           "settings": {}}
    print(f"offline diarize: train {np.mean([v for k, v in offline.items() if k[0] == 'train']):.3f}, dev "
          f"{np.mean([v for k, v in offline.items() if k[0] == 'dev']):.3f}", flush=True)
    if a.offline_only:
        if a.out: Path(a.out).write_text(json.dumps(res, indent=1))
        raise SystemExit
    for rule, ths in THRESHOLDS.items():
        for th in ths:
            for c in CONFIRMS:
                row = {}
                for key, rows in rec.items():
                    out = [replay(model, w, db, th, c, cohort=rule == 'as-norm', vad=a.vad) for w, db, ref in rows]
                    row["|".join(key)] = dict(der=float(np.mean([der(ref, seg)["der"] for (seg, _),
                                                                 (_, _, ref) in zip(out, rows)])),
                                              extra_speakers=float(np.mean([len({s for *_, s in seg}) - len({s for *_, s in ref})
                                                                            for (seg, _), (_, _, ref) in zip(out, rows)])))
                name = f"{rule}|{th}|{c}"
                res["settings"][name] = row
                print(name, " ".join(f"{k.split('|')[1]} {v['der']:.3f}/{v['extra_speakers']:+.1f}" for k,
                                     v in row.items()), flush=True)
    mean_on = lambda name, role: float(np.mean([v["der"] for k, v in res["settings"][name].items() if k.startswith(role + "|")]))
    for rule in THRESHOLDS:
        names = [n for n in res["settings"] if n.startswith(rule + "|")]
        best = min(names, key=lambda n: mean_on(n, "train"))
        shipped = f"{rule}|{TRACK_NEW[rule]}|{TRACK_CONFIRM}"
        res[f"chosen_{rule}"] = best
        print(f"{rule}: chosen on training conversations {best} (train DER {mean_on(best, 'train'):.3f}, dev "
              f"{mean_on(best, 'dev'):.3f}); "
              f"shipped {shipped} (train {mean_on(shipped, 'train'):.3f}, dev {mean_on(shipped, 'dev'):.3f}); offline diarize: "
              f"train {np.mean([v for k, v in offline.items() if k[0] == 'train']):.3f}, dev "
              f"{np.mean([v for k, v in offline.items() if k[0] == 'dev']):.3f}")
    print(f"tracking real-time factor (one thread, 0.1-s chunks): {res['real_time_factor']:.3f}")
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1))
