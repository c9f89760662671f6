"scripts/ship_weights.py: a run's export becomes a shippable checkpoint with cohort, threshold and per-dev-set metadata."
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simple_speaker_embedding.hub import export_checkpoint, load_checkpoint
from simple_speaker_embedding.model import GRUEmbedder

SCRIPT = Path(__file__).parents[1] / "scripts" / "ship_weights.py"


def test_ship_weights_on_a_tiny_run(fixture_root, tmp_path):
    torch.manual_seed(0)
    m = GRUEmbedder(hidden=16, layers=1)
    stage1 = dict(epochs=2, lr=2e-3, crop=[140, 180], augment=False, seed=0, train_minutes=1.0, teacher_model="T (licence)")
    export_checkpoint(m, tmp_path / "run.pt", meta=dict(epochs=3, lr=1e-3, crop=[160, 400], augment=True, seed=3,
                                                        train_minutes=2.0, init="runs/a/model.pt", init_meta=stage1))
    out = tmp_path / "shipped.pt"
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "run.pt"), "--dev", str(fixture_root / "cv_en"),
                        "--cohort", str(fixture_root), "--recipe", "sse train ...", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "sha256" in r.stdout and "AS-norm" in r.stdout
    s = load_checkpoint(out)
    assert s.cohort.shape == (6, 256) and s.threshold is not None
    assert [st["epochs"] for st in s.meta["stages"]] == [2, 3]            # oldest stage first
    assert s.meta["teacher_model"] == "T (licence)"                        # found along the warm-start chain
    assert set(s.meta["dev_eer"]) == {"cv_en"} and set(s.meta["dev_eer_asnorm"]) == {"cv_en"}
    assert s.meta["recipe"] == "sse train ..." and s.scoring == "as-norm"
    # the operating point is recomputed from the dev trials: 1% false accepts on AS-norm scores (a constant would fail)
    from simple_speaker_embedding.evaluate import evaluate
    from simple_speaker_embedding.metrics import error_rates, threshold_at_fa
    s.scoring = "cosine"; res = evaluate(s, fixture_root / "cv_en", n_boot=0, progress=False).as_normed(s.cohort, n_boot=0)
    assert s.threshold == pytest.approx(threshold_at_fa(res.trials.score, res.trials.label, 0.01), abs=0.05)
    fa, fr = error_rates(res.trials.score, res.trials.label, s.threshold)
    assert fa <= 0.02 and s.meta["at_threshold"]["cv_en"]["false_accept"] <= 0.01
    x = torch.randn(2, 50, 80) - 5
    torch.testing.assert_close(s(x), m.eval()(x), atol=2e-3, rtol=0)   # the same weights, stored as float16
