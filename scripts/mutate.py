"""Mutation testing of the modules a change touched: one small, plausible breakage at a time, then the tests that
should notice. A survivor is a breakage no test catches: kill it with a test, or say in tests/README.md why it changes
nothing a user sees.

    python scripts/mutate.py simple_speaker_embedding/evaluate.py --only calibrate_threshold threshold_at_fa \\
        --tests tests/test_properties.py tests/test_calibrate.py [--max 40 | --sample 25 --seed 0] [--out runs/mutants.json]

Mutations (Python's own `ast`, one at a time): a comparison flipped (< <=, > >=, == !=), a number moved by one (or
0.5 for floats), + and - swapped, `and`/`or` swapped, `min`/`max` swapped, a `not` dropped. Each mutant is written
into a copy of the package in a temporary folder that is put first on PYTHONPATH, so the tests - and the `sse`
subprocesses they start, which inherit PYTHONPATH - run the mutated code, not the installed one. A mutant is killed
when the tests fail (or run past `--timeout`).
"""
import argparse
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLIP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


SOURCE = ''   # the module's text, for the mutants' descriptions


def _segment(node) -> str:
    "The source text of a node, on one line, shortened."
    seg = (ast.get_source_segment(SOURCE, node) or ast.unparse(node)).replace('\n', ' ')
    return seg if len(seg) <= 60 else seg[:57] + '...'


def mutants(tree, only):
    "Yield `(description, mutated tree)` for every mutation point inside the functions named in `only` (all if empty)."
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and (not only or n.name in only)]
    for f in funcs:
        for node in ast.walk(f):
            edits = []
            if isinstance(node, ast.Compare):
                for i, op in enumerate(node.ops):
                    if type(op) in FLIP: edits.append((f"{type(op).__name__}->{FLIP[type(op)].__name__}", 'ops',
                                                       i, FLIP[type(op)]()))
            elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not isinstance(node.value, bool):
                d = 1 if isinstance(node.value, int) else 0.5
                edits.append((f"{node.value!r}->{node.value + d!r}", 'value', None, node.value + d))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
                edits.append(("+<->-", 'op', None, ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()))
            elif isinstance(node, ast.BoolOp):
                edits.append(("and<->or", 'op', None, ast.Or() if isinstance(node.op, ast.And) else ast.And()))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ('min', 'max'):
                edits.append((f"{node.func.id}->{'max' if node.func.id == 'min' else 'min'}", 'func', None,
                              ast.Name('max' if node.func.id == 'min' else 'min', ast.Load())))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                edits.append(("not dropped", 'unnot', None, None))
            for what, field, i, new in edits:
                t = copy.deepcopy(tree)
                target = next(n for n in ast.walk(t) if ast.dump(n) == ast.dump(node) and getattr(n, 'lineno', -1) == node.lineno
                              and getattr(n, 'col_offset', -1) == node.col_offset)
                if field == 'ops': target.ops[i] = new
                elif field == 'unnot':
                    parent = next(p for p in ast.walk(t) for c in ast.iter_child_nodes(p) if c is target)
                    for name, val in ast.iter_fields(parent):
                        if val is target: setattr(parent, name, target.operand)
                        elif isinstance(val, list) and target in val: val[val.index(target)] = target.operand
                else: setattr(target, field, new)
                yield f"{f.name}:{node.lineno}:{node.col_offset}: {what} in `{_segment(node)}`", t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("module", help="a file of the package, e.g. simple_speaker_embedding/evaluate.py")
    ap.add_argument("--only", nargs="*", default=[], help="mutate only these functions")
    ap.add_argument("--tests", nargs="+", required=True, help="the tests that should notice: files or node ids")
    ap.add_argument("--select", default=None, help="only the tests whose names match this pytest -k expression")
    ap.add_argument("--max", type=int, default=None, help="at most this many mutants (the first ones)")
    ap.add_argument("--sample", type=int, default=None, help="a random sample of this many mutants (seeded: --seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=600); ap.add_argument("--out", default=None)
    a = ap.parse_args()
    global SOURCE
    src = SOURCE = (ROOT / a.module).read_text(); tree = ast.parse(src)
    rel = Path(a.module).relative_to('simple_speaker_embedding')
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / 'simple_speaker_embedding'
        shutil.copytree(ROOT / 'simple_speaker_embedding', pkg, ignore=shutil.ignore_patterns('__pycache__'))
        env = dict(os.environ, PYTHONPATH=f"{tmp}{os.pathsep}{ROOT / 'tests'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                   PYTHONDONTWRITEBYTECODE='1')
        todo = list(mutants(tree, set(a.only)))
        if a.sample is not None and a.sample < len(todo):
            import random
            todo = [todo[i] for i in sorted(random.Random(a.seed).sample(range(len(todo)), a.sample))]
        print(f"{len(todo)} mutants of {a.module}", flush=True)
        for k, (what, t) in enumerate(todo):
            if a.max is not None and k >= a.max: break
            (pkg / rel).write_text(ast.unparse(t))
            t0 = time.time()
            try:
                r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p",
                                    "no:xdist", "-o", "addopts=",
                                    "--rootdir", str(ROOT),
                                    "-c", str(ROOT / "pyproject.toml"),
                                    *[str(ROOT / t) if (ROOT / t.split('::')[0]).exists() else t
                                                                           for t in a.tests],
                                    *(["-k", a.select] if a.select else [])],
                                   cwd=tmp, env=env, capture_output=True, text=True, timeout=a.timeout)   # cwd: the copy first
                killed = r.returncode != 0
            except subprocess.TimeoutExpired: killed = True
            results.append(dict(mutant=what, killed=killed, seconds=round(time.time() - t0, 1)))
            print(f"{'killed  ' if killed else 'SURVIVED'} {what} ({time.time() - t0:.0f} s)", flush=True)
        (pkg / rel).write_text(src)
    n = len(results); s = [r for r in results if not r['killed']]
    print(f"{n - len(s)} of {n} mutants killed; survivors: {len(s)}")
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
