"""The decision rule: the speech minimum at its edge, cosine models ignore a cohort they carry, checkpoint
errors name the right tensors, and ship_weights.py puts the threshold where its per-set cap and top-k say."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from simple_speaker_embedding.asnorm import as_norm, asnorm_cohort, cohort_stats
from simple_speaker_embedding.audio import MIN_FRAMES, AudioError, require_speech
from simple_speaker_embedding.evaluate import evaluate
from simple_speaker_embedding.hub import export_checkpoint, load_checkpoint
from simple_speaker_embedding.metrics import calibrate_threshold
from simple_speaker_embedding.model import GRUEmbedder

SCRIPT = Path(__file__).parents[1] / "scripts" / "ship_weights.py"


def test_the_speech_minimum_is_exactly_min_frames():
    assert MIN_FRAMES == 20                                                # 0.23 s, as documented
    with pytest.raises(AudioError, match=r"too short to judge: 0\.22 s .*at least 0\.23 s"):
        require_speech(torch.zeros(MIN_FRAMES - 1, 80))
    mel = torch.zeros(MIN_FRAMES, 80)
    assert require_speech(mel) is mel


def test_a_cosine_model_with_a_cohort_scores_with_the_cosine(sse, fixture_files, tmp_path):
    torch.manual_seed(0)
    m = GRUEmbedder(hidden=16, layers=1).eval()
    m.cohort, m.threshold, m.scoring, m.meta = torch.nn.functional.normalize(torch.randn(8, 256),
                                                                             dim=-1), 0.5, "cosine", {"asnorm_top_k": 3}
    a, b = torch.nn.functional.normalize(torch.randn(2, 256), dim=-1)
    cos = float(a @ b)
    assert asnorm_cohort(m) == (None, 3) and m.score(a, b) == pytest.approx(cos, abs=1e-6)
    m.scoring = "as-norm"                                                 # the same model deciding with AS-norm
    c = m.cohort.numpy()
    want = as_norm(np.array([cos]), cohort_stats(a.numpy(), c, 3), cohort_stats(b.numpy(), c, 3))[0]
    assert m.score(a, b) == pytest.approx(want, abs=1e-4) and abs(want - cos) > 1e-3
    m.scoring = "cosine"
    export_checkpoint(m, tmp_path / "cos.pt")
    r = sse("verify", str(fixture_files[0]), str(fixture_files[5]), "--model", str(tmp_path / "cos.pt"))
    assert r.returncode == 0 and "(cosine)" in r.stdout, r.stdout + r.stderr
    s = float(r.stdout.split()[1])
    e = m.embed_files([fixture_files[0], fixture_files[5]])
    assert s == pytest.approx(float(e[0] @ e[1]), abs=1e-3)


@pytest.mark.parametrize("what", ["missing", "unexpected"])
def test_load_checkpoint_names_the_right_tensors(tmp_path, what):
    export_checkpoint(GRUEmbedder(hidden=8, layers=1), tmp_path / "m.pt")
    ck = torch.load(tmp_path / "m.pt", weights_only=True)
    if what == "missing": del ck["state_dict"]["proj.bias"]
    else: ck["state_dict"]["head.weight"] = torch.zeros(3)
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(ValueError) as e: load_checkpoint(tmp_path / "bad.pt")
    msg = str(e.value)
    if what == "missing": assert "1 missing tensor(s): proj.bias" in msg and "unexpected" not in msg, msg
    else: assert "1 unexpected tensor(s): head.weight" in msg and "missing" not in msg, msg


def test_ship_weights_threshold_follows_the_per_set_cap_at_the_shipped_top_k(fixture_root, tmp_path):
    """Two dev sets; a loose pooled target (20%) and a tight per-set
    cap (5%): the cap sets the threshold, on the top-3 AS-norm scale."""
    speakers = sorted((fixture_root / "cv_en").iterdir())
    for i, d in enumerate(("dev_a", "dev_b")):
        for s in speakers[3 * i:3 * i + 3]: shutil.copytree(s, tmp_path / d / s.name)
    torch.manual_seed(0)
    m = GRUEmbedder(hidden=16, layers=1).eval()
    m.cohort = torch.nn.functional.normalize(torch.randn(40, 256), dim=-1).half().float()   # stored exactly as it ships
    export_checkpoint(m, tmp_path / "run.pt", half=True, meta=dict(epochs=1, lr=1e-3, seed=0))   # so are the weights
    out = tmp_path / "shipped.pt"
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "run.pt"), "--dev", str(tmp_path / "dev_a"),
                        str(tmp_path / "dev_b"),
                        "--recipe", "sse train ...", "--out", str(out),
                        "--fa", "0.2", "--max-fa-per-set", "0.05", "--top-k", "3"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    s = load_checkpoint(out)
    assert s.meta["asnorm_top_k"] == 3 and s.scoring == "as-norm"
    sets = {}
    for d in ("dev_a", "dev_b"):
        res = evaluate(s, tmp_path / d, n_boot=0, progress=False, cohort=s.cohort, top_k=3)
        sets[d] = (res.trials.score.to_numpy(), res.trials.label.to_numpy())
    assert s.threshold == pytest.approx(calibrate_threshold(sets, 0.2, 0.05), abs=1e-4)
    assert calibrate_threshold(sets, 0.2, 0.05) > calibrate_threshold(sets, 0.2) + 0.05      # the cap, not the
                                                                                             # pooled rate, decides
    for d, (sc, lab) in sets.items():
        assert (sc[lab == 0] >= s.threshold).mean() <= 0.05 and s.meta["at_threshold"][d]["false_accept"] <= 0.05
    for k in (10, 100):                                                                   # another top-k: another scale
        other = {}
        for d in sets:
            res = evaluate(s, tmp_path / d, n_boot=0, progress=False, cohort=s.cohort, top_k=k)
            other[d] = (res.trials.score.to_numpy(), res.trials.label.to_numpy())
        assert abs(calibrate_threshold(other, 0.2, 0.05) - s.threshold) > 1e-2


def test_load_checkpoint_messages_list_at_most_six_names_four_shapes_and_one_line(tmp_path):
    "The messages a user reads: names of missing tensors (the first six, then ...), wrong shapes (the first four), the "
    "first line of an unreadable entry's error (at most 160 characters); the expected text is built here from the state dict."
    export_checkpoint(GRUEmbedder(hidden=8, layers=2), tmp_path / "m.pt")
    ck = torch.load(tmp_path / "m.pt", weights_only=True)
    names = sorted(ck["state_dict"])
    def load(mutate):
        c = torch.load(tmp_path / "m.pt", weights_only=True); mutate(c); torch.save(c, tmp_path / "bad.pt")
        with pytest.raises(ValueError) as e: load_checkpoint(tmp_path / "bad.pt")
        return str(e.value)
    for n in (6, 7):                                               # six names in full; a seventh becomes "..."
        gone = names[:n]
        msg = load(lambda c: [c["state_dict"].pop(k) for k in gone])
        assert msg.endswith(f"{n} missing tensor(s): {', '.join(gone[:6])}{' ...' if n > 6 else ''}"), msg
    wrong = [k for k in names if ck["state_dict"][k].ndim == 2][:5]
    msg = load(lambda c: [c["state_dict"].__setitem__(k, torch.zeros(3, 3)) for k in wrong])
    assert f"{len(wrong)} tensor(s) of the wrong shape: " in msg and msg.count("(model:") == 4, msg
    assert f"{wrong[3]} (3, 3) (model: {tuple(ck['state_dict'][wrong[3]].shape)})" in msg and wrong[4] not in msg
    long = "x" * 300
    msg = load(lambda c: c["hparams"]["model"].__setitem__(long, 1))     # GRUEmbedder(**...) refuses the key: a TypeError
    detail = msg.split("incomplete or mismatched checkpoint (", 1)[1]
    assert detail.startswith("TypeError: ") and len(detail) == len("TypeError: ") + 160 + 1, detail   # 160 characters and ")"
    msg = load(lambda c: c.pop("hparams"))
    assert msg.endswith("(KeyError: 'hparams')"), msg


def test_averaging_one_checkpoint_is_that_checkpoint_and_none_is_refused(tmp_path):
    from simple_speaker_embedding.hub import average_checkpoints
    torch.manual_seed(3)
    m = GRUEmbedder(hidden=8, layers=1)
    export_checkpoint(m, tmp_path / "a.pt")
    one = average_checkpoints([tmp_path / "a.pt"])
    for k, v in m.state_dict().items(): torch.testing.assert_close(one.state_dict()[k], v)
    with pytest.raises(ValueError, match="at least one checkpoint"): average_checkpoints([])
