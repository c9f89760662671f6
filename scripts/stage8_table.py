"""The stage-8 ablation table (docs/training.md, "Objectives") from what `python scripts/ablation.py
recipes/studies/stage8.toml` left in WORK: training minutes (logs), training-speaker validation (valid.json,
scripts/valid_report.py) and dev cosine EER (eval_*.txt).

    python scripts/stage8_table.py runs/stage8 --json docs/results/stage8_ablation.json
"""
import argparse
import json
import re
from pathlib import Path

ARMS = {'ge2e': 'GE2E', 'aam': 'AAM', 'ge2e+aam': 'GE2E+AAM', 'lm': 'GE2E+AAM 1 epoch, then the large-margin stage'}
DEV = ('cv_en', 'speechocean762', 'librispeech_halves')
NEW = ('an4', 'few_alnum_en', 'few_speech_commands')        # held-out datasets that stage 7 never trained on

def minutes(work, name):
    "Training minutes of a run (both stages of the lm arm)."
    runs = [f"lm1_{name[-2:]}", name] if name.startswith('lm_') else [name]
    return sum(float(re.search(r"trained in ([\d.]+) min", (work / f"{r}.log").read_text())[1]) for r in runs)

def dev_eers(work, name):
    txt = (work / f"eval_{name}.txt").read_text()
    return {d: float(re.search(rf"{d} EER \(%\)\s+([\d.]+)", txt)[1]) for d in DEV}

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work"); ap.add_argument("--json", default=None)
    a = ap.parse_args(); work = Path(a.work)
    valid = json.loads((work / "valid.json").read_text())['models']
    rows = []
    for arm, label in [('stage7', 'shipped (stage 7), no further training')] + list(ARMS.items()):
        for which in (['stage7'] if arm == 'stage7' else ['s7', 's8', 'avg']):
            name = 'stage7' if arm == 'stage7' else f"{arm}_{which}"
            key = 'runs/stage7.pt' if arm == 'stage7' else str(work / (f"{name}.pt" if which == 'avg' else f"{name}/model.pt"))
            v = valid[key]
            row = dict(arm=label,
                       run='' if arm == 'stage7' else {'s7': 'seed 7', 's8': 'seed 8', 'avg': 'seeds averaged'}[which],
                       minutes=None if arm == 'stage7' or which == 'avg' else minutes(work, name),
                       dev_cosine=dev_eers(work, name),
                       valid_asnorm=v['as-norm']['mean'], valid_cosine=v['cosine']['mean'],
                       valid_new_asnorm=sum(v['as-norm'][d][0] for d in NEW) / len(NEW))
            rows.append(row)
    print("| arm | run | minutes | dev EER, cosine: cv_en / so762 / ls (mean) | validation EER, AS-norm (cosine) | new to stage "
          "7, AS-norm |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        d = r['dev_cosine']; m = sum(d.values()) / 3
        mins = '' if r['minutes'] is None else f"{r['minutes']:.1f}"
        print(f"| {r['arm']} | {r['run']} | {mins} | "
              f"{' / '.join(f'{x:.2f}' for x in d.values())}% ({m:.2f}) | {r['valid_asnorm']:.2f}% ({r['valid_cosine']:.2f}) | "
              f"{r['valid_new_asnorm']:.2f}% |")
    if a.json: Path(a.json).write_text(json.dumps(rows, indent=1))
