"`sse calibrate` as a user runs it (a subprocess with its defaults), and the library calibration it calls."
import re
import shutil

import numpy as np
import pytest
import torch

from simple_speaker_embedding.evaluate import evaluate
from simple_speaker_embedding.hub import gru_embedder, load_checkpoint
from simple_speaker_embedding.metrics import error_rates, threshold_at_fa


@pytest.fixture(scope="module")
def calibrated(sse, fixture_root, tmp_path_factory):
    "The shipped model calibrated on the fixture speakers with `sse calibrate`'s defaults: (path, stdout, stderr)."
    out = tmp_path_factory.mktemp("cal") / "my_model.pt"
    r = sse("calibrate", str(fixture_root), "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    return out, r.stdout, r.stderr


def test_calibrated_checkpoint_holds_the_target_on_its_own_trials(calibrated, fixture_root):
    out, stdout, stderr = calibrated
    digest = re.search(r"sha256 ([0-9a-f]{64})", stdout).group(1)
    cal = load_checkpoint(out, sha256=digest)                       # weights_only load, digest as printed
    shipped = gru_embedder()
    for k, v in shipped.state_dict().items(): assert torch.equal(cal.state_dict()[k], v), k   # the same weights
    c = cal.meta["calibration"]
    assert (c["n_speakers"], c["n_recordings"], c["n_target"], c["n_nontarget"]) == (6, 24, 36, 240)
    assert c["target_fa"] == 0.01 and c["scoring"] == "as-norm" and c["previous_threshold"] == pytest.approx(shipped.threshold)
    assert cal.meta["stages"] == shipped.meta["stages"]                                       # the rest of meta is kept
    res = evaluate(cal, fixture_root, progress=False, n_boot=0, cohort=cal.cohort, top_k=cal.meta["asnorm_top_k"])
    fa, fr = error_rates(res.trials.score, res.trials.label, cal.threshold)
    assert fa <= 0.01 and c["false_accept"] == round(fa, 5) and c["false_reject"] == round(fr, 5)   # stored to 5 decimals
    assert all(x == round(x, 5) for x in c["false_accept_ci"] + c["false_reject_ci"])
    assert c["cohort_added"] == 0 and c["asnorm_top_k"] == shipped.meta["asnorm_top_k"]       # the rule it was scored with
    assert cal.threshold == pytest.approx(threshold_at_fa(res.trials.score, res.trials.label, 0.01), abs=1e-4)
    assert c["false_accept_ci"][0] <= c["false_accept"] <= c["false_accept_ci"][1]
    assert cal.threshold != pytest.approx(shipped.threshold, abs=0.1)   # it moved (these speakers score unlike the dev pool)
    assert "warning: only 240 different-speaker pairs" in stderr and len(stderr.strip().splitlines()) == 1
    assert "false accepts" in stdout and "(target 1.00%)" in stdout


def test_verify_and_eval_decide_at_the_calibrated_threshold(sse, calibrated, fixture_files):
    out, _, _ = calibrated
    th = load_checkpoint(out).threshold
    r = sse("verify", str(fixture_files[0]), str(fixture_files[5]), "--model", str(out))
    assert r.returncode == 0, r.stderr
    score = float(re.search(r"score (-?[\d.]+)", r.stdout).group(1))
    assert f"threshold {th:.4f}" in r.stdout
    assert ("same speaker" in r.stdout) == (score >= th) and ("different speakers" in r.stdout) == (score < th)
    r = sse("eval", str(fixture_files[0].parents[1]), "--model", str(out), "--bootstrap", "0")
    assert r.returncode == 0, r.stderr
    m = re.search(r"at model threshold\s+(-?[\d.]+): false accepts ([\d.]+)%", r.stdout)
    assert m and float(m.group(1)) == pytest.approx(th, abs=1e-4) and float(m.group(2)) <= 1.0


@pytest.mark.parametrize("speakers,clips,found",
                         [(4, 2, "found 4 (4 speakers, 8 recordings)"), (6, 1, "found 0 (6 speakers, 6 recordings)")])
def test_too_few_speakers_or_clips_is_one_line(sse, fixture_files, tmp_path, speakers, clips, found):
    by_speaker = {}
    for f in fixture_files: by_speaker.setdefault(f.parent.name, []).append(f)
    for spk in sorted(by_speaker)[:speakers]:
        (tmp_path / spk).mkdir()
        for f in by_speaker[spk][:clips]: shutil.copy(f, tmp_path / spk / f.name)
    r = sse("calibrate", str(tmp_path), "--out", str(tmp_path / "m.pt"))
    assert r.returncode == 1 and not (tmp_path / "m.pt").exists()
    assert r.stderr.strip().splitlines() == [f"sse calibrate: error: calibration needs at least 5 speakers with 2 or more "
                                             f"recordings each; {found}"]


def test_add_cohort_and_target_as_a_percentage(sse, fixture_root, tmp_path):
    r = sse("calibrate", str(fixture_root), "--out", str(tmp_path / "m.pt"), "--target-fa", "5%", "--add-cohort")
    assert r.returncode == 0, r.stderr
    cal, shipped = load_checkpoint(tmp_path / "m.pt"), gru_embedder()
    assert len(cal.cohort) == len(shipped.cohort) + 6 and cal.meta["calibration"]["cohort_added"] == 6
    assert cal.meta["calibration"]["target_fa"] == 0.05 and cal.meta["calibration"]["false_accept"] <= 0.05
    torch.testing.assert_close(cal.cohort[:len(shipped.cohort)], shipped.cohort)         # the shipped cohort is kept


def test_max_fr_puts_the_threshold_mid_window(sse, fixture_root, tmp_path):
    "With --max-fr the threshold sits at the centre of the window that keeps the folder within both limits."
    from simple_speaker_embedding.metrics import calibrate_threshold
    r = sse("calibrate", str(fixture_root), "--out", str(tmp_path / "m.pt"), "--target-fa", "10%", "--max-fr", "30%")
    assert r.returncode == 0, r.stderr
    cal = load_checkpoint(tmp_path / "m.pt")
    c = cal.meta["calibration"]
    assert c["max_fr"] == 0.3 and "(at most 30.00% asked)" in r.stdout
    res = evaluate(cal, fixture_root, progress=False, n_boot=0, cohort=cal.cohort, top_k=cal.meta["asnorm_top_k"])
    s, l = res.trials.score.to_numpy(), res.trials.label.to_numpy()
    assert cal.threshold == pytest.approx(calibrate_threshold({"f": (s, l)}, 0.1, max_fr_per_set=0.3), abs=1e-3)
    assert cal.threshold != pytest.approx(threshold_at_fa(s, l, 0.1), abs=1e-2)      # not the plain FA point
    fa, fr = error_rates(s, l, cal.threshold)
    assert fa <= 0.1 and fr <= 0.3


def test_added_cohort_speakers_are_left_out_of_their_own_clips_stats(fixture_root):
    """With add_cohort, each calibration clip is normalised against the cohort
    without its own speaker (as a new recording of an enrolled speaker would be)."""
    from simple_speaker_embedding.asnorm import as_norm, cohort_stats
    from simple_speaker_embedding.corpus import list_utterances
    m = gru_embedder()
    m.meta = {**m.meta, "asnorm_top_k": 20}                  # a rule of its own: the calibration must score with its top-k
    utts = list_utterances(fixture_root)
    cal = m.calibrate(utts.path, utts.speaker, target_fa=0.05, add_cohort=True, n_boot=0)
    res = evaluate(m, fixture_root, progress=False, n_boot=0)
    e = res.embeddings
    names = sorted(utts.speaker.unique())
    coh, k = cal.cohort.numpy(), m.meta["asnorm_top_k"]
    own = {p: len(m.cohort) + names.index(s) for p, s in zip(utts.path, utts.speaker)}
    stats = {p: cohort_stats(e[p][None], np.delete(coh, own[p], axis=0), k) for p in e}
    t = res.trials
    s = as_norm(t.score.to_numpy(), tuple(np.array([stats[p][i][0] for p in t.path1]) for i in (0, 1)),
                tuple(np.array([stats[p][i][0] for p in t.path2]) for i in (0, 1)))
    assert cal.threshold == pytest.approx(threshold_at_fa(s, t.label.to_numpy(), 0.05), abs=1e-3)
    with_own = evaluate(m, fixture_root, progress=False, n_boot=0, cohort=cal.cohort, top_k=k).trials   # own speaker left in
    assert abs(threshold_at_fa(with_own.score, with_own.label, 0.05) - cal.threshold) > 0.05


def test_the_few_pairs_warning_starts_below_ten_expected_false_accepts(fixture_root):
    "5 speakers x 4 clips: 190 - 30 = 160 different-speaker pairs (counted here), exactly 10 / 6.25%: no warning; "
    "one clip fewer: 171 - (4 x 6 + 3) = 144 pairs, a warning."
    import warnings

    from simple_speaker_embedding.calibrate import calibrate_model
    from simple_speaker_embedding.corpus import list_utterances
    from simple_speaker_embedding.model import GRUEmbedder
    utts = list_utterances(fixture_root)
    five = utts[utts.speaker.isin(sorted(utts.speaker.unique())[:5])].groupby("speaker").head(4)
    assert len(five) == 20 and 20 * 19 // 2 - 5 * 6 == 160
    torch.manual_seed(0)
    tiny = GRUEmbedder(hidden=16, layers=1).eval()
    def warned(rows):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m = calibrate_model(tiny, rows.path, rows.speaker, target_fa=0.0625, n_boot=0)
        return [str(x.message) for x in w if "different-speaker pairs" in str(x.message)], m
    msgs, m = warned(five)
    assert msgs == []
    c = m.meta["calibration"]                                   # a cosine model: no AS-norm rule, no cohort added
    assert (c["scoring"], c["asnorm_top_k"], c["cohort_added"]) == ("cosine", None, 0)
    msg = warned(five.iloc[1:])[0][0]
    assert msg.startswith("only 144 different-speaker pairs: a 6.25% false-accept threshold rests on 9.0 of them")
    assert msg.endswith("at least 160 pairs (more speakers) make it firm")
