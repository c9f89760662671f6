"""Recipes and flags as `sse train` merges them: a flag given wins over the
recipe for every kind of setting, and explicit zeros and falses survive."""
import pytest

from simple_speaker_embedding import cli, commands
from simple_speaker_embedding.config import TrainConfig, load_recipe, save_recipe

RECIPE = """
epochs = 5
lr = 0.004
crop = [100, 120]
augment = true
max_steps = 30
band_p = 0.4
"""


@pytest.fixture
def trained_with(monkeypatch, tmp_path):
    "Run `sse train` through `main` up to the point it would train; return the `TrainConfig` it would train with."
    seen = {}
    monkeypatch.setattr(commands, "train_cmd", lambda mels, out, cfg, resume=True: seen.setdefault("cfg", cfg))
    (tmp_path / "r.toml").write_text(RECIPE)
    def run(*flags):
        seen.clear()
        assert cli.main(["train", "mels", "out", "--config", str(tmp_path / "r.toml"), *flags]) == 0
        return seen["cfg"]
    return run


@pytest.mark.parametrize("flags,field,want", [
    (["--epochs", "9"], "epochs", 9),                       # int
    (["--lr", "0.001"], "lr", 0.001),                       # float
    (["--crop", "60", "70"], "crop", (60, 70)),             # tuple
    (["--no-augment"], "augment", False),                   # bool, switched off
    (["--max-steps", "7"], "max_steps", 7),                 # optional int
    (["--band-p", "0"], "band_p", 0.0),                     # optional float, an explicit zero
])
def test_a_flag_given_wins_over_the_recipe(trained_with, flags, field, want):
    base = trained_with()
    assert getattr(base, field) != want                      # the recipe says otherwise...
    assert getattr(trained_with(*flags), field) == want      # ...and the flag wins
    others = {k: v for k, v in vars(trained_with(*flags)).items() if k != field}
    assert others == {k: v for k, v in vars(base).items() if k != field}      # nothing else moves


def test_explicit_zeros_and_falses_survive_channel_export_and_reload(tmp_path):
    (tmp_path / "z.toml").write_text("augment = false\nband_p = 0.0\nreverb_p = 0.0\ndistort_p = 0.25\nmax_steps = 1\n")
    cfg = load_recipe(tmp_path / "z.toml")
    assert cfg.channel == {"band_p": 0.0, "reverb_p": 0.0, "distort_p": 0.25}          # 0 means "none", not "unset"
    assert cfg.recipe()["band_p"] == 0.0 and cfg.recipe()["augment"] is False
    back = load_recipe(save_recipe(cfg, tmp_path / "back.toml"))
    assert back == cfg and back.channel == cfg.channel
    assert TrainConfig().channel == {}                                                   # unset: the defaults of Augment


def test_a_wrong_path_in_a_recipe_fails_before_training(sse, fixture_root, tmp_path):
    "`sse train --config` with a dev set that is not there: one line naming it, at once, and no training state written."
    import time
    assert sse("preprocess", str(fixture_root), str(tmp_path / "mels"), "--workers", "1").returncode == 0
    (tmp_path / "r.toml").write_text('dev = "../shared/data/dev/no_such_set"\ncohort = "also/missing"\nhidden = 8\nlayers = 1\n')
    t0 = time.time()
    r = sse("train", str(tmp_path / "mels"), str(tmp_path / "run"), "--config", str(tmp_path / "r.toml"), "--max-steps", "6",
            "--n-speakers", "3", "--n-utterances", "3", "--valid-pct", "0.34")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert ("dev ../shared/data/dev/no_such_set" in lines[0] and "cohort also/missing" in lines[0]
            and "current directory" in lines[0])
    assert not (tmp_path / "run" / "train_state.pt").exists() and time.time() - t0 < 60


def test_max_steps_beyond_the_epochs_says_so(sse, fixture_store, tmp_path):
    "`sse train --max-steps 40` on a run whose epochs end first: one line says where it stops, the export says the steps run."
    r = sse("train", str(fixture_store), str(tmp_path / "run"), "--max-steps", "40", "--epochs", "2", "--hidden", "8",
            "--layers", "1", "--n-speakers", "3", "--n-utterances", "3", "--crop", "20", "30", "--valid-pct", "0.34")
    assert r.returncode == 0, r.stderr[-2000:]
    note = [l for l in r.stderr.splitlines() if l.startswith("note:")]
    assert note == ["note: max_steps 40 is more than the 2 epochs x 2 steps = 4 steps the run has: it stops after 4 "
                    "(raise epochs to go further)"], r.stderr
    from simple_speaker_embedding.hub import load_checkpoint
    assert load_checkpoint(tmp_path / "run" / "model.pt").meta["steps"] == 4


def test_open_ranges_refuse_their_bound(sse):
    "A learning rate must be above 0 (an open range), in the dataclass and on the command line alike."
    import pytest

    from simple_speaker_embedding.config import TrainConfig
    with pytest.raises(ValueError, match="lr must be above 0, got 0.0"): TrainConfig(lr=0.0)
    assert TrainConfig(lr=1e-9).lr == 1e-9 and TrainConfig(valid_pct=0.0).valid_pct == 0.0   # a closed bound is allowed
    r = sse("train", "m", "o", "--lr", "0")
    assert r.returncode == 2 and "--lr: 0 is out of range: must be > 0" in r.stderr
