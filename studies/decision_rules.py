"""Which decision rule holds on recordings it was not chosen on? A leave-one-dev-set-out study.

Reads the embeddings `studies/embed_cache.py` wrote (dev clips, cohort speakers per training dataset) and, for every
rule (cohort, top-k, score, threshold policy), chooses the threshold on two dev sets and measures false accepts and
false rejects on the third, for each of the three; then the same rule chosen on all three, as it would ship. A rule is
acceptable when every held-out set stays within `--max-fa` false accepts and `--max-fr` false rejects. Then the whole
rule chosen blind (`leave_one_out`): cohort, score and top-k by the lowest EER on two sets, the shipped threshold policy
on them, measured on the third; the worst of the three is reported (it is how a model is compared with the shipped one:
`--model` of `studies/embed_cache.py` makes its cache). Prints a table and writes it as JSON. Usage:

    python studies/decision_rules.py /work/cache --out docs/results/decision_rules.json
"""
import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from simple_speaker_embedding.asnorm import as_norm, cohort_stats
from simple_speaker_embedding.metrics import calibrate_threshold, eer, error_rates

DEV = ('cv_en', 'speechocean762', 'librispeech_halves')
SHIPPED_COHORT = ('train_cv_fa', 'train_cv_multilang', 'train_cv_tw', 'train_cv_uz', 'train_cv_vi', 'train_msc_malayalam',
                  'train_speechocean762', 'train_few_cv_multilang')      # stage 7's 2,630 speakers
NEW = ('train_an4', 'train_few_speech_commands', 'train_few_alnum_en')

def load(cache):
    cache = Path(cache)
    dev = {n: dict(np.load(cache / f"dev_{n}.npz")) for n in DEV}
    coh = {f.stem[len('cohort_'):]: dict(np.load(f)) for f in sorted(cache.glob("cohort_*.npz"))}
    return dev, coh

def pairs(d):
    "All pairs of a dev set: (i, j, label)."
    i, j = np.triu_indices(len(d['emb']), k=1)
    return i, j, (d['speaker'][i] == d['speaker'][j]).astype(int)

def scores(d, cohort, top_k, kind):
    "Trial scores of one dev set under a score kind: 'cosine', 'as-norm'."
    i, j, lab = pairs(d)
    cos = np.einsum('nd,nd->n', d['emb'][i], d['emb'][j])
    if kind == 'cosine': return cos, lab
    st = cohort_stats(d['emb'], cohort, top_k)
    return as_norm(cos, (st[0][i], st[1][i]), (st[0][j], st[1][j])), lab

def choose(sets, fa, cap, max_fr=None):
    "The library's rule (`calibrate_threshold`) on these sets' (scores, labels)."
    return calibrate_threshold(dict(enumerate(sets)), fa, cap, max_fr)

def study(dev, coh, accept_fa, accept_fr):
    rows = []
    for (cname, kind, top_k), (n_cohort, sc) in rule_candidates(dev, coh).items():
        policies = [(fa, cap, None) for fa,
                    cap in itertools.product((0.005, 0.01, 0.02), (None, 0.02, 0.03)) if cap is None or cap >= fa]
        for fa, cap, max_fr in policies + [(0.02, 0.02, 0.15), (0.03, 0.03, 0.15), (0.02, 0.02, 0.10), (0.03, 0.03, 0.10)]:
            held = {}
            for h in DEV:
                th = choose([sc[n] for n in DEV if n != h], fa, cap, max_fr)
                held[h] = error_rates(*sc[h], th)
            th_all = choose(list(sc.values()), fa, cap, max_fr)
            ship = {n: error_rates(*sc[n], th_all) for n in DEV}
            ok = all(a <= accept_fa and r <= accept_fr for a, r in held.values())
            rows.append(dict(cohort=cname, n_cohort=n_cohort, score=kind, top_k=top_k,
                             fa=fa, cap=cap, max_fr=max_fr, eer={n: eer(*sc[n])[0] for n in DEV},
                             held_out=held, threshold=th_all, shipped=ship, holds=ok,
                             worst_held_fa=max(a for a, _ in held.values()), worst_held_fr=max(r for _, r in held.values())))
    return rows

def rule_candidates(dev, coh):
    "Every (cohort, score, top-k) of the study: its cohort size and each dev set's trial scores under it."
    cohorts = {'stage 7 (2,630 speakers)': SHIPPED_COHORT,
               'every training domain (+an4, speech_commands, alnum_en)': SHIPPED_COHORT + NEW}
    out = {}
    for (cname, keys), kind, top_k in itertools.product(cohorts.items(), ('as-norm', 'cosine'), (50, 100, 200, 400)):
        if kind == 'cosine' and (top_k != 100 or cname != next(iter(cohorts))): continue
        C = np.concatenate([coh[k]['emb'] for k in keys if k in coh])
        out[(cname, kind, top_k if kind != 'cosine' else None)] = len(C), {n: scores(dev[n], C, top_k, kind) for n in DEV}
    return out

def leave_one_out(dev, coh, policy=(0.03, 0.03, 0.15)):
    """The whole rule chosen without the set it is measured on: for each dev set, the cohort, score and top-k with the
    lowest mean EER on the other two and the threshold `policy` (pooled FA, per-set FA cap, per-set FR window) sets on
    them; then EER, false accepts and false rejects on the held-out set. The worst of the three is what a user of
    other recordings can expect."""
    cands = {k: sc for k, (_, sc) in rule_candidates(dev, coh).items()}
    e = {k: {n: eer(*v[n])[0] for n in DEV} for k, v in cands.items()}
    out = {}
    for h in DEV:
        rest = [n for n in DEV if n != h]
        key = min(cands, key=lambda k: np.mean([e[k][n] for n in rest]))
        th = choose([cands[key][n] for n in rest], *policy)
        fa, fr = error_rates(*cands[key][h], th)
        out[h] = dict(cohort=key[0], score=key[1], top_k=key[2], eer=e[key][h], fa=fa, fr=fr, threshold=th)
    out['worst'] = {m: max(out[h][m] for h in DEV) for m in ('eer', 'fa', 'fr')}
    out['mean_eer'] = float(np.mean([out[h]['eer'] for h in DEV]))
    return out

def quality(dev, coh):
    """Within each dev set: how much different-speaker AS-norm scores follow
    the clips' speech length and their cohort similarity (Pearson r)."""
    C = np.concatenate([coh[k]['emb'] for k in SHIPPED_COHORT + NEW if k in coh])
    out = {}
    for n in DEV:
        d = dev[n]
        m, sd = cohort_stats(d['emb'], C, 100)
        i, j, lab = pairs(d)
        cos = np.einsum('nd,nd->n', d['emb'][i], d['emb'][j])
        sc, non = as_norm(cos, (m[i], sd[i]), (m[j], sd[j])), lab == 0
        out[n] = dict(r_log_min_frames=float(np.corrcoef(sc[non], np.log(np.minimum(d['frames'][i], d['frames'][j]))[non])[0, 1]),
                      r_cohort_mean=float(np.corrcoef(sc[non], (m[i] + m[j])[non])[0, 1]),
                      nontarget_mean=float(sc[non].mean()), nontarget_p97=float(np.quantile(sc[non], 0.97)),
                      target_p15=float(np.quantile(sc[~non], 0.15)))
    return out

def markdown(rows) -> str:
    "The study as a markdown table, rules that hold first, then by how far the worst held-out set is from the limits."
    pct = lambda x: f"{100 * x:.2f}"
    excess = lambda r: max(r['worst_held_fa'] - 0.03, 0) / 0.03 + max(r['worst_held_fr'] - 0.15, 0) / 0.15
    lines = ["| cohort | score | top-k | pooled FA | cap FA | window FR | EER % cv_en / so762 / ls | held out: FA / FR % cv_en ; "
             "so762 ; ls | holds | threshold on all three: FA / FR % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=excess):
        h = " ; ".join(f"{pct(a)} / {pct(b)}" for a, b in r['held_out'].values())
        s = " ; ".join(f"{pct(a)} / {pct(b)}" for a, b in r['shipped'].values())
        lines.append(f"| {r['cohort']} | {r['score']} | {r['top_k'] or ''} | {pct(r['fa'])} | "
                     f"{pct(r['cap']) if r['cap'] else ''} | "
                     f"{pct(r['max_fr']) if r['max_fr'] else ''} | {' / '.join(pct(e) for e in r['eer'].values())} | {h} | "
                     f"{'yes' if r['holds'] else 'no'} | {r['threshold']:.3f}: {s} |")
    return "\n".join(lines) + "\n"

def show(rows):
    pct = lambda x: f"{100 * x:5.2f}"
    print("cohort | score | top-k | pooled FA | cap FA | cap FR | EER cv/so/ls | held-out FA/FR cv ; so ; ls | holds | shipped "
          "th, FA/FR")
    for r in rows:
        h = " ; ".join(f"{pct(a)}/{pct(b)}" for a, b in r['held_out'].values())
        s = " ; ".join(f"{pct(a)}/{pct(b)}" for a, b in r['shipped'].values())
        print(f"{r['cohort'][:22]:22} | {r['score']:7} | {r['top_k']} | {r['fa']} | {r['cap']} | {r['max_fr']} | "
              f"{' '.join(pct(e) for e in r['eer'].values())} | {h} | {'YES' if r['holds'] else 'no '} | "
              f"{r['threshold']:.3f} {s}")

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cache"); ap.add_argument("--out", default=None)
    ap.add_argument("--markdown", default=None, help="also write the table as markdown here")
    ap.add_argument("--max-fa", type=float, default=0.03); ap.add_argument("--max-fr", type=float, default=0.15)
    a = ap.parse_args()
    dev, coh = load(a.cache)
    rows = study(dev, coh, a.max_fa, a.max_fr)
    show(rows)
    loo = leave_one_out(dev, coh)
    for h in DEV:
        r = loo[h]
        print(f"held out {h}: chose {r['cohort'][:22]} {r['score']} top-{r['top_k']} -> EER {100 * r['eer']:.2f}%, "
              f"FA {100 * r['fa']:.2f}%, FR {100 * r['fr']:.2f}% at {r['threshold']:.3f}")
    print(f"worst held-out: EER {100 * loo['worst']['eer']:.2f}%, FA {100 * loo['worst']['fa']:.2f}%, FR "
          f"{100 * loo['worst']['fr']:.2f}%; mean held-out EER {100 * loo['mean_eer']:.2f}%")
    q = quality(dev, coh)
    for n, v in q.items(): print(n, " ".join(f"{k} {x:.3f}" for k, x in v.items()))
    if a.out: Path(a.out).write_text(json.dumps(dict(rules=rows, leave_one_out=loo, quality=q), indent=1, default=float))
    if a.markdown: Path(a.markdown).write_text(markdown(rows))
