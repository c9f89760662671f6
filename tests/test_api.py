"""The public API card and behaviour kept across restructurings: the shipped model's outputs on the fixtures."""
from pathlib import Path

import numpy as np
import torch

REF = Path(__file__).parent / "fixtures" / "shipped_reference.npz"


def test_shipped_embeddings_unchanged(fixture_files):
    "The shipped model embeds, windows and scores the fixtures exactly as it did before the code was restructured."
    from simple_speaker_embedding import gru_embedder
    ref, m = np.load(REF), gru_embedder()
    e = m.embed_files(fixture_files).numpy()
    np.testing.assert_array_equal(e, ref['embeddings'])
    long = torch.cat([m.melspec_from_file(f, trim=True) for f in fixture_files[:6]])   # 1826 frames: windowed
    np.testing.assert_array_equal(m.embed_mels([long]).numpy(), ref['long'])
    # AS-norm sums over the cohort in float32: BLAS threads change the last bits (2e-7 seen), nothing more
    np.testing.assert_allclose([m.score(e[0], e[1]), m.score(e[0], e[5])], ref['scores'], rtol=0, atol=1e-5)


RECIPES = Path(__file__).parents[1] / "recipes"
# the defaults `sse train --help`, the README and the recipes rely on (a changed default must change this too, deliberately)
DOCUMENTED = dict(epochs=8, lr=2e-3, crop=(140, 180), augment=False, seed=0, rounds=1, teacher=None, distill="embedding",
                  distill_weight=None, ge2e_weight=1.0, band_p=None, max_steps=None, n_speakers=32, n_utterances=8,
                  clip_speakers=None, hidden=256, layers=3, emb_dim=256, valid_pct=0.05, valid_seed=0, checkpoint_every=50,
                  objective="ge2e", margin=0.2, scale=30.0, aam_weight=1.0)


def _given(args) -> dict:
    from simple_speaker_embedding.cli import TRAIN_SETTINGS
    return {k: v for k, v in vars(args).items() if k in TRAIN_SETTINGS}


def test_parser_defaults_are_train_config():
    "`sse train` with no flags trains with exactly TrainConfig(); each flag reaches its field."
    from dataclasses import fields

    from simple_speaker_embedding.cli import _parser
    from simple_speaker_embedding.config import TrainConfig
    p = _parser()
    assert TrainConfig(**_given(p.parse_args(["train", "m", "o"]))) == TrainConfig()
    assert {k: getattr(TrainConfig(), k) for k in DOCUMENTED} == DOCUMENTED      # and those are the documented defaults
    for f in fields(TrainConfig):                                   # every setting has a flag
        assert f"--{f.name.replace('_', '-')}" in p._subparsers._group_actions[0].choices["train"].format_help()


def test_recipes_reproduce_the_shipped_stages():
    "recipes/stage1-8.toml hold the settings behind the shipped weights: its meta['stages'] and the commands in meta['recipe']."
    import shlex

    from simple_speaker_embedding import TrainConfig, gru_embedder, load_recipe
    from simple_speaker_embedding.cli import _parser
    meta = gru_embedder().meta
    cfgs = [load_recipe(RECIPES / f"stage{i}.toml") for i in range(1, 9)]
    assert len(meta["stages"]) == 8
    for cfg, st in zip(cfgs, meta["stages"]):
        st = {**st, **st.get("aug", {})}
        for k in ("epochs", "lr", "crop", "augment", "seed", "rounds", "teacher", "distill", "distill_weight",
                  "ge2e_weight", "band_p",
                  "max_steps", "n_speakers", "n_utterances", "clip_speakers", "objective", "margin", "scale", "valid_pct"):
            want = st.get(k, DOCUMENTED[k])                     # a stage that did not record a setting ran at its default
            assert getattr(cfg, k) == (tuple(want) if k == "crop" else want), (cfg, k, st)
    assert meta["stages"][-1]["averaged_runs"] == 2 and len(meta["averaged_from"]) == 2   # stage 8: two seeds, averaged
    # the command lines of stages 4-8 in meta['recipe'] (stage 8: its two seeds), parsed by today's parser, are recipes
    # 4-8 (paths aside; the seed-7 run of stage 8 is its recipe with --seed 7)
    cmds = [c.strip() for c in meta["recipe"].split("&&") if c.strip().startswith("sse train")]
    assert len(cmds) == 6
    for cmd, cfg in zip(cmds, cfgs[3:7] + [cfgs[7].with_(seed=7), cfgs[7]]):
        args = _parser().parse_args(shlex.split(cmd.split(" (")[0])[1:])
        from simple_speaker_embedding.distill import DISTILL_WEIGHTS
        got = TrainConfig(**_given(args))
        got = got.with_(init=cfg.init,
                        # the default weight, as used
                        distill_weight=got.distill_weight or (DISTILL_WEIGHTS[got.distill] if got.teacher else None))
        assert got == cfg, cmd
