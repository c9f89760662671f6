"studies/diarization.py's saved runs: `--save` / `--pool` round trip, pooled DER and pairing, and the runs the README quotes."
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "studies" / "diarization.py"


def _bench():
    if str(SCRIPT.parent) not in sys.path: sys.path.insert(0, str(SCRIPT.parent))   # as when run: its folder's `common`
    spec = importlib.util.spec_from_file_location("bench_diarization", SCRIPT)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def _res(rng):
    "Made-up results: 2 sets x 2 counts x 2 embedders x 5 conversations."
    res = {}
    for name in ("a", "b"):
        for k in (2, 3):
            for n in ("ours", "resemblyzer"):
                rows = []
                for seed in range(100, 105):
                    sp = float(rng.uniform(20, 60))
                    rows.append((seed, 0.2, dict(der=float(rng.uniform(0, .2)), speech=sp),
                                 dict(der=float(rng.uniform(0, .3)), speech=sp), int(rng.integers(1, 5))))
                res[(name, k, n)] = rows
    return res


def test_save_load_round_trip(tmp_path):
    b, res = _bench(), _res(np.random.default_rng(0))
    b.save(tmp_path / "r.csv", res)
    back = b.load([tmp_path / "r.csv"])
    assert back.keys() == res.keys()
    for key in res:
        for x, y in zip(res[key], back[key]):
            assert x[0] == y[0] and x[4] == y[4]
            assert np.isclose(x[2]["der"], y[2]["der"]) and np.isclose(x[3]["speech"], y[3]["speech"])


def test_pool_prints_pooled_der(tmp_path):
    b, res = _bench(), _res(np.random.default_rng(1))
    later = {key: [(r[0] + 5,) + r[1:] for r in rows] for key, rows in _res(np.random.default_rng(2)).items()}   # seeds 105+
    b.save(tmp_path / "one.csv", res); b.save(tmp_path / "two.csv", later)
    out = subprocess.run([sys.executable, str(SCRIPT), "--pool", str(tmp_path / "one.csv"), str(tmp_path / "two.csv")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "all sets: 20 test conversations per count" in out.stdout
    rows = res[("a", 3, "ours")] + later[("a", 3, "ours")]
    want = 100 * sum(r[2]["der"] * r[2]["speech"] for r in rows) / sum(r[2]["speech"] for r in rows)
    block = out.stdout.split("\na: ")[1].split("\n\n")[0]
    line = next(l for l in block.splitlines() if l.split()[:2] == ["3", "ours"])
    assert line.split()[2] == f"{want:.1f}%"


def test_saved_test_runs_are_paired():
    "The runs behind the README's diarization tables: 100 conversations per set and count, both embedders on each."
    b = _bench()
    res = b.load(sorted((ROOT / "docs" / "results").glob("diarization_test*.csv")))
    for (name, k, n), rows in res.items():
        assert len(rows) == 100, (name, k, n)
        assert [r[0] for r in rows] == [r[0] for r in res[(name, k, "resemblyzer")]]
    assert {key[0] for key in res} == {"cv_en", "speechocean762", "fsdd_digits"}


def test_synth_conversation_is_seeded_and_alternates_speakers(fixture_root):
    "studies/conversations.py: the same seed gives the same mixture; turns alternate; the reference names clip folders; "
    "each turn's span holds audio (its level above the silence around the conversation)."
    import sys
    sys.path.insert(0, str(ROOT / "studies"))
    from conversations import synth_conversation
    y, ref = synth_conversation(fixture_root / "cv_en", n_speakers=3, n_turns=8, seed=1)
    y2, ref2 = synth_conversation(fixture_root / "cv_en", n_speakers=3, n_turns=8, seed=1)
    assert ref2 == ref and np.array_equal(y2, y)
    assert len(ref) == 8 and len({s for *_, s in ref}) == 3 and all(ref[i][2] != ref[i + 1][2] for i in range(7))
    assert {s for *_, s in ref} <= {p.name for p in (fixture_root / "cv_en").iterdir()}
    sr = 22050
    for s, e, _ in ref: assert np.abs(y[int(s * sr):int(e * sr)]).max() > 0.05
    assert np.abs(y[int(max(e for _, e, _ in ref) * sr) + 10:]).max() == 0      # the tail after the last turn is silent
