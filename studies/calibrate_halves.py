"""Does `sse calibrate` carry to other speakers of the same corpus? Calibrate on half of a dev set's speakers,
measure on the other half (and the other way round).

For each dev folder the speakers (sorted by name) are split alternately into halves A and B; `model.calibrate` sets
the threshold at `--target-fa` on A's pairs (optionally adding A's speakers to the cohort), and false accepts and
false rejects are measured on B's pairs at the shipped and at the calibrated threshold; then B -> A. Prints a
table and writes it as JSON. Usage:

    python studies/calibrate_halves.py ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 \\
        ../shared/data/dev/librispeech_halves --out docs/results/calibrate_halves_1pct.json
    python studies/calibrate_halves.py ... --target-fa 0.03 --max-fr 0.15 --out docs/results/calibrate_halves_window.json
"""
import argparse
import json
import warnings
from pathlib import Path

from simple_speaker_embedding.asnorm import asnorm_cohort
from simple_speaker_embedding.corpus import list_utterances
from simple_speaker_embedding.evaluate import evaluate
from simple_speaker_embedding.hub import gru_embedder, load_checkpoint
from simple_speaker_embedding.metrics import error_rates, make_trials

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dev", nargs="+"); ap.add_argument("--out", default=None)
    ap.add_argument("--target-fa", type=float, default=0.01)
    ap.add_argument("--max-fr", type=float, default=None, help="the window rule of `sse calibrate --max-fr`")
    ap.add_argument("--add-cohort", action="store_true")
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped weights)")
    a = ap.parse_args()
    model = load_checkpoint(a.model) if a.model else gru_embedder()
    rows = []
    for d in a.dev:
        utts = list_utterances(d)
        names = sorted(utts.speaker.unique())
        halves = {'A': set(names[0::2]), 'B': set(names[1::2])}
        for cal_half, test_half in (('A', 'B'), ('B', 'A')):
            c = utts[utts.speaker.isin(halves[cal_half])]
            t = utts[utts.speaker.isin(halves[test_half])]
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always')
                cal = model.calibrate(c.path, c.speaker, target_fa=a.target_fa, max_fr=a.max_fr,
                                      add_cohort=a.add_cohort, n_boot=0)
            row = dict(set=Path(d).name, calibrated_on=f"{cal_half} ({len(halves[cal_half])} speakers, {len(c)} clips)",
                       measured_on=f"{test_half} ({len(halves[test_half])} speakers, {len(t)} clips)",
                       warnings=[str(x.message) for x in w])
            for name, m in (('shipped', model), ('calibrated', cal)):
                coh, k = asnorm_cohort(m)
                res = evaluate(m, make_trials(t), n_boot=0, progress=False, cohort=coh, top_k=k)
                fa, fr = error_rates(res.trials.score, res.trials.label, m.threshold)
                row[name] = dict(threshold=m.threshold, false_accept=fa, false_reject=fr)
            row['on_calibration_half'] = {k: cal.meta['calibration'][k] for k in ('false_accept', 'false_reject')}
            rows.append(row)
            s, k = row['shipped'], row['calibrated']
            print(f"{row['set']:20} cal {row['calibrated_on']:32} test {row['measured_on']:32} | shipped {s['threshold']:.3f}: "
                  f"FA {100*s['false_accept']:.2f}% FR {100*s['false_reject']:.2f}% | calibrated {k['threshold']:.3f}: "
                  f"FA {100*k['false_accept']:.2f}% FR {100*k['false_reject']:.2f}%", flush=True)
    if a.out: Path(a.out).write_text(json.dumps(rows, indent=1))
