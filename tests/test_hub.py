"Checkpoints and the torch.hub entry point (offline, from the repository)."
from pathlib import Path

import pytest
import torch

from simple_speaker_embedding.hub import export_checkpoint, gru_embedder, load_checkpoint
from simple_speaker_embedding.model import GRUEmbedder

REPO = Path(__file__).parents[1]


def test_torch_hub_load_untrained_offline():
    m = torch.hub.load(str(REPO), "gru_embedder", source="local", pretrained=False)
    assert isinstance(m, torch.nn.Module) and not m.training
    assert m.gru.hidden_size == 768 and m.gru.num_layers == 3
    mel = m.melspec_from_array(torch.randn(22050) * 0.1)
    assert m(mel[None]).shape == (1, 256)


def test_torch_hub_passes_architecture_kwargs():
    m = torch.hub.load(str(REPO), "gru_embedder", source="local", pretrained=False, hidden=256, normalize=False)
    assert m.gru.hidden_size == 256 and m.normalize is False


def test_missing_weights_say_so(monkeypatch):
    import simple_speaker_embedding.hub as hub
    monkeypatch.setattr(hub, "PRETRAINED", {})              # as in a build without shipped weights
    with pytest.raises(RuntimeError, match="pretrained=False"):
        hub.gru_embedder(pretrained=True)


def test_pretrained_rejects_architecture_kwargs():
    with pytest.raises(TypeError, match="pretrained=True"):
        gru_embedder(pretrained=True, hidden=32)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    m = GRUEmbedder(hidden=32, layers=2, normalize=False).eval()
    m.threshold = 0.61
    digest = export_checkpoint(m, tmp_path / "m.pt", meta=dict(recipe="test"))
    loaded = load_checkpoint(tmp_path / "m.pt", sha256=digest)
    x = torch.randn(3, 50, 80)
    torch.testing.assert_close(loaded(x), m(x))
    assert loaded.threshold == 0.61 and loaded.meta == dict(recipe="test") and loaded.normalize is False
    assert loaded.hparams == m.hparams


def test_checkpoint_sha_mismatch_and_garbage(tmp_path):
    m = GRUEmbedder(hidden=16, layers=1)
    export_checkpoint(m, tmp_path / "m.pt")
    with pytest.raises(RuntimeError, match="sha256"):
        load_checkpoint(tmp_path / "m.pt", sha256="0" * 64)
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a simple-speaker-embedding checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_fp16_storage_matches_fp32(tmp_path):
    torch.manual_seed(0)
    m = GRUEmbedder(hidden=64, layers=2).eval()
    export_checkpoint(m, tmp_path / "h.pt", half=True)
    export_checkpoint(m, tmp_path / "f.pt")
    assert (tmp_path / "h.pt").stat().st_size < 0.6 * (tmp_path / "f.pt").stat().st_size
    x = torch.randn(2, 80, 80) - 5
    cos = (load_checkpoint(tmp_path / "h.pt")(x) * m(x)).sum(-1)
    assert cos.min() > 0.999


def test_hub_refuses_a_tampered_shipped_file(tmp_path, monkeypatch):
    "Not only load_checkpoint: the hub entry point itself must check the shipped file's sha256."
    from simple_speaker_embedding import hub
    fname, _ = hub.PRETRAINED["gru_embedder"]
    data = bytearray((hub.WEIGHTS_DIR / fname).read_bytes()); data[-100] ^= 0xFF
    (tmp_path / fname).write_bytes(bytes(data))
    monkeypatch.setattr(hub, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="sha256"):
        hub.gru_embedder()


def test_half_precision_export_keeps_embeddings(fixture_files, tmp_path):
    "The README's claim for float16 storage: embeddings of a float32 model and its half export agree (cosine)."
    from simple_speaker_embedding.hub import export_checkpoint, gru_embedder, load_checkpoint
    m = gru_embedder()
    torch.manual_seed(0)
    with torch.no_grad():                                    # float32 weights that float16 cannot hold exactly
        for p in m.parameters(): p.add_(torch.randn_like(p) * 1e-3)
    export_checkpoint(m, tmp_path / "half.pt", half=True)
    h = load_checkpoint(tmp_path / "half.pt")
    mels = [m.melspec_from_file(f) for f in fixture_files]
    cos = (m.embed_mels(mels) * h.embed_mels(mels)).sum(-1)
    assert cos.min() > 0.99999, cos.min()


def test_average_of_two_known_checkpoints(sse, tmp_path):
    "`sse average` writes the mean of the checkpoints' weights; the average drops the cohort and the threshold."
    torch.manual_seed(0)
    a, b = GRUEmbedder(hidden=8, layers=1), GRUEmbedder(hidden=8, layers=1)
    with torch.no_grad():
        for p in a.parameters(): p.fill_(1.0)
        for p in b.parameters(): p.fill_(3.0)
    b.threshold, b.cohort, b.scoring = 1.5, torch.randn(4, 256), "as-norm"
    export_checkpoint(a, tmp_path / "a.pt"); export_checkpoint(b, tmp_path / "b.pt")
    r = sse("average", tmp_path / "a.pt", tmp_path / "b.pt", "--out", tmp_path / "avg.pt")
    assert r.returncode == 0 and "averaged 2 checkpoints" in r.stdout, r.stderr
    m = load_checkpoint(tmp_path / "avg.pt")
    assert all(torch.equal(v, torch.full_like(v, 2.0)) for v in m.state_dict().values())
    assert m.threshold is None and m.cohort is None and m.scoring == "cosine"
    assert m.meta["averaged_from"] == [str(tmp_path / "a.pt"), str(tmp_path / "b.pt")]
    export_checkpoint(GRUEmbedder(hidden=16, layers=1), tmp_path / "c.pt")
    r = sse("average", tmp_path / "a.pt", tmp_path / "c.pt", "--out", tmp_path / "bad.pt")
    assert r.returncode == 1 and "another architecture" in r.stderr and not (tmp_path / "bad.pt").exists()


def test_averaging_refuses_another_front_end_and_keeps_the_last_checkpoints_meta(tmp_path):
    "Same architecture, other mel front-end (fmax 7600 Hz): their weights do not mean the same, so no average; the "
    "average's `last_meta` is the last checkpoint's own meta, not the first's."
    from simple_speaker_embedding.audio import MelHParams
    from simple_speaker_embedding.hub import average_checkpoints
    a, b = GRUEmbedder(hidden=8, layers=1), GRUEmbedder(hidden=8, layers=1, mel_hparams=MelHParams(mel_fmax=7600.0))
    export_checkpoint(a, tmp_path / "a.pt", meta=dict(run="first"))
    export_checkpoint(b, tmp_path / "b.pt", meta=dict(run="other"))
    with pytest.raises(ValueError) as e: average_checkpoints([tmp_path / "a.pt", tmp_path / "b.pt"])
    # names both files
    assert str(e.value).startswith(f"{tmp_path / 'b.pt'}: another architecture or front-end than {tmp_path / 'a.pt'} (")
    c = GRUEmbedder(hidden=8, layers=1); export_checkpoint(c, tmp_path / "c.pt", meta=dict(run="last"))
    m = average_checkpoints([tmp_path / "a.pt", tmp_path / "c.pt"])
    assert m.meta["last_meta"]["run"] == "last" and m.meta["averaged_from"] == [str(tmp_path / "a.pt"), str(tmp_path / "c.pt")]
