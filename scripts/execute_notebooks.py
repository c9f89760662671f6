"""Run the module notebooks and keep their outputs, so that the docs site shows each example's result.

    python scripts/execute_notebooks.py                 # every notebook in nbs/
    python scripts/execute_notebooks.py nbs/08_model.ipynb nbs/15_diarize.ipynb

Each notebook runs top to bottom in its own process from nbs/ (as `nbdev-test` runs it), on one torch thread; a cell
that raises stops that notebook, which is then left as it was. Outputs are written back and `nbdev-clean` tidies the
metadata. Rerun it for a notebook whose examples changed (the docs show what was stored, they do not execute).
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _final_text(text:str) -> str:
    "What a terminal would show at the end: each line's text after its last carriage return (progress bars redraw)."
    lines = [ln.rsplit('\r', 1)[-1] for ln in text.split('\n')]
    return '\n'.join(ln for ln in lines if ln.strip() != '\u2588')


def execute(path:Path) -> str|None:
    "Run one notebook in place; None on success, else the error."
    from execnb.shell import CaptureShell, read_nb, write_nb
    nb = read_nb(path)
    shell = CaptureShell(path, mpl_format='png')
    try: shell.run_all(nb, exc_stop=True)
    except Exception as e: return f"{type(e).__name__}: {e}"
    for c in nb.cells:                                 # the docs show outputs, not the order cells ran in
        if c.cell_type != 'code': continue
        c.execution_count = None
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream': o['text'] = _final_text(''.join(o['text']))
    write_nb(nb, path)
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: every numbered notebook in nbs/)")
    a = ap.parse_args(argv)
    nbs = [Path(p).resolve() for p in a.notebooks] or sorted((ROOT / "nbs").glob("[0-9][0-9]_*.ipynb"))
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    failed = []
    for p in nbs:
        r = subprocess.run([sys.executable, __file__, "--one", str(p)], cwd=p.parent, env=env, capture_output=True, text=True)
        ok = r.returncode == 0
        why = "" if ok else f": {(r.stdout + r.stderr).strip()[-600:]}"
        print(f"{'ok    ' if ok else 'FAILED'} {p.name}{why}", flush=True)
        if not ok: failed.append(p.name)
    subprocess.run(["nbdev-clean"], cwd=ROOT, check=True)
    if failed: sys.exit(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        import torch
        torch.set_num_threads(1)
        err = execute(Path(sys.argv[2]))
        if err: sys.exit(err)
    else: main()
