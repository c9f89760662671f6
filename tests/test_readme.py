"The README's headline numbers are the shipped model's own (`model.meta`), and its links lead somewhere."
import json
import re
from pathlib import Path

import pytest

from simple_speaker_embedding.hub import gru_embedder

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def meta():
    return gru_embedder().meta


def pct(s):
    "'2.64% (1.55-4.34)' -> (0.0264, (0.0155, 0.0434))"
    m = re.fullmatch(r"\s*([\d.]+)% \(([\d.]+)-([\d.]+)\)\s*", s)
    assert m, s
    return float(m[1]) / 100, (float(m[2]) / 100, float(m[3]) / 100)


def test_headline_table_is_the_shipped_meta(meta):
    rows = [l for l in README.splitlines() if re.match(r"\| (cv_en|speechocean762|librispeech_halves) \(", l)]
    assert len(rows) == 3
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].split()[0]
        asn, cos = pct(cells[1]), pct(cells[2])
        assert asn[0] == pytest.approx(meta["dev_eer_asnorm"][name], abs=5e-5), name
        assert asn[1] == pytest.approx(tuple(meta["dev_eer_asnorm_ci"][name]), abs=5e-5), name
        assert cos[0] == pytest.approx(meta["dev_eer"][name], abs=5e-5), name
        assert cos[1] == pytest.approx(tuple(meta["dev_eer_ci"][name]), abs=5e-5), name


def test_threshold_and_cohort_in_the_text_are_the_shipped_ones(meta):
    model = gru_embedder()
    th = re.search(r"decision threshold \(([\d.]+), AS-norm against ([\d,]+) training speakers\)", README)
    assert th and float(th[1]) == pytest.approx(model.threshold, abs=5e-4)
    assert int(th[2].replace(",", "")) == len(model.cohort)


def test_readme_is_a_front_door_and_its_links_resolve():
    assert len(README.splitlines()) <= 210
    for page in ("README.md", "CHANGELOG.md", "docs/errors.md", "docs/training.md", "docs/streaming.md", "bench/README.md"):
        text = (ROOT / page).read_text()
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):          # relative links (no scheme)
            assert (ROOT / page).parent.joinpath(target).exists(), f"{page}: {target}"


def test_degraded_table_is_the_measured_one():
    """The README's degraded-audio rows are the three-set means of `docs/results/degraded_dev.json` (and, for the
    robust weights, `degraded_dev_stage9d.json`: the file `gru_embedder_robust` was measured as), rounded."""
    res = json.loads((ROOT / "docs/results/degraded_dev.json").read_text())["models"]
    robust = json.loads((ROOT / "docs/results/degraded_dev_stage9d.json").read_text())["models"]
    res["robust"] = robust[next(iter(robust))]
    cols = ("shipped", "robust", "resemblyzer", "campplus")
    rows = {"clean": ["clean"], "telephone": ["telephone"], "reverberant": ["reverb"], "noise": ["noise15", "noise5"],
            "2-s": ["short2s"]}
    section = README.split("On degraded copies")[1].split("\n\n")[1]
    seen = 0
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        conds = rows[cells[0].split()[0]]
        for col, cell in zip(cols, cells[1:]):
            got = [float(v) for v in re.findall(r"([\d.]+)%", cell)]
            assert got == [round(res[col]["eer"][c]["mean"], 2) for c in conds], (cells[0], col)
        seen += 1
    assert seen == len(rows)
