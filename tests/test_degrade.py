"Degraded copies in the mel store: what each row records, resuming, clean validation, the teacher's clean targets, the CLI."
import numpy as np
import pytest

from simple_speaker_embedding.audio import SAMPLE_RATE, load_audio, trim_silence


@pytest.fixture(scope="module")
def degraded_store(tmp_path_factory, fixture_root):
    "The fixtures with one degraded copy of each clip (noise or telephone: no room bank, fast), in this process."
    from simple_speaker_embedding.store import preprocess
    dst = tmp_path_factory.mktemp("degraded_store")
    man = preprocess(fixture_root, dst, n_workers=0, progress=False, degrade=['noise', 'telephone'], degrade_copies=1)
    return dst, man


def test_each_clip_gets_its_copies_under_its_own_speaker(degraded_store, fixture_files):
    _, man = degraded_store
    clean, copies = man[man.degrade == ''], man[man.degrade != '']
    assert len(clean) == len(copies) == len(fixture_files)
    assert set(copies.key) == {k + '~d1' for k in clean.key}
    c = clean.set_index('key'); d = copies.assign(base=copies.key.str[:-3]).set_index('base')
    assert (d.speaker == c.speaker[d.index]).all() and (d.source == c.source[d.index]).all()
    assert (d.frames == c.frames[d.index]).all()                       # a copy keeps its clip's length
    assert copies.degrade.str.match(r'^(noise\((colour[0-9.]+|babble),snr=[0-9.]+\)|telephone\((mulaw|gsm)\))'
                                    r'(\+(noise|telephone)\(.*\))?$').all()


def test_a_copy_is_its_clip_degraded_as_the_row_says(degraded_store):
    "Recompute one noisy row from its audio: the stored mels differ from the clean ones by noise at the recorded SNR."
    from simple_speaker_embedding.store import MelStore
    root, man = degraded_store
    rows = np.flatnonzero((man.degrade.str.startswith('telephone') & ~man.degrade.str.contains(r'\+')).to_numpy())
    r = int(rows[0]); store = MelStore(root)
    m = store.crops(np.array([r]), np.array([0]), int(man.frames[r]))[0].astype(np.float32)
    # a telephone copy has (almost) no energy above 4 kHz: its mel bands there sit far below the clean clip's
    clean = store.crops(np.array([r - 1]), np.array([0]), int(man.frames[r]))[0].astype(np.float32)
    top = slice(70, 80)                                                 # the highest mel bands (about 6-8 kHz)
    assert clean[:, top].mean() - m[:, top].mean() > 2.0


def test_a_rerun_reuses_every_shard_and_changing_the_degradation_redoes_them(degraded_store, fixture_root):
    from simple_speaker_embedding.store import preprocess
    root, man = degraded_store
    again = preprocess(fixture_root, root, n_workers=0, progress=False, degrade=['noise', 'telephone'], degrade_copies=1)
    assert again.attrs['shards_reused'] == again.attrs['shards']
    assert again.drop(columns='shard').equals(man.drop(columns='shard'))


def test_copies_are_the_same_in_any_process(tmp_path, fixture_root):
    "Seeded by each clip's key: three shards in two workers make the same copies as one shard in this process."
    from simple_speaker_embedding.store import MelStore, preprocess
    kw = dict(progress=False, degrade=['telephone', 'eq', 'level'], degrade_copies=2)
    one = preprocess(fixture_root, tmp_path / 'a', n_workers=0, **kw)
    other = preprocess(fixture_root, tmp_path / 'b', n_workers=2, files_per_shard=8, **kw)
    assert one.shard.nunique() == 1 and other.shard.nunique() == 3
    assert list(other.degrade) == list(one.degrade) and list(other.key) == list(one.key)
    rows, a, b = np.arange(len(one)), MelStore(tmp_path / 'a'), MelStore(tmp_path / 'b')
    np.testing.assert_array_equal(a.crops(rows, 0 * rows, 30), b.crops(rows, 0 * rows, 30))


def test_validation_rows_stay_clean_unless_asked(degraded_store):
    from simple_speaker_embedding.data import speaker_dataloaders
    root, man = degraded_store
    dls = speaker_dataloaders(root, n_speakers=2, n_utterances=2, crop=(40, 60), valid_pct=0.34, device='cpu', num_workers=0)
    valid = man.iloc[dls.valid.rows]
    assert len(valid) and (valid.degrade == '').all()
    train = man.iloc[dls.train.rows]
    assert (train.degrade != '').sum() == (train.degrade == '').sum()       # training sees the copies
    dls2 = speaker_dataloaders(root, n_speakers=2, n_utterances=2, crop=(40, 60), valid_pct=0.34, device='cpu', num_workers=0,
                               valid_degraded=True)
    v2 = man.iloc[dls2.valid.rows]
    assert set(v2.speaker) == set(valid.speaker) and (v2.degrade != '').sum() == len(valid)


@pytest.mark.parametrize("share", [0.0, 0.25, 0.75, 1.0])
def test_degraded_share_sets_the_fraction_of_copies_in_the_batches(degraded_store, share):
    """`degraded_share`: that fraction of the epoch's utterances are
    copies (binomial, counted over many epochs); None: the rows' own."""
    from simple_speaker_embedding.data import speaker_dataloaders
    root, man = degraded_store
    kw = dict(n_speakers=2, n_utterances=8, crop=(40, 60), valid_pct=0.34, device='cpu', num_workers=0, rounds=20)
    dl = speaker_dataloaders(root, degraded_share=share, **kw).train
    picked = np.array([i for e in range(5) for i, _, _ in (dl.set_epoch(e), dl.get_idxs())[1]])
    is_copy = man.degrade.to_numpy()[dl.rows[picked]] != ''
    sd = (share * (1 - share) / len(picked)) ** 0.5
    assert abs(is_copy.mean() - share) <= 4 * sd + 1e-9, (is_copy.mean(), share, len(picked))
    spk = man.speaker.to_numpy()[dl.rows[picked]].reshape(-1, 8)              # M utterances of one speaker, copies or not
    assert (spk == spk[:, :1]).all()
    # None: as before
    assert speaker_dataloaders(root, **kw).train.get_idxs() == speaker_dataloaders(root, **kw).train.get_idxs()


def test_degraded_share_without_copies_says_so(fixture_store):
    from simple_speaker_embedding.data import speaker_dataloaders
    with pytest.raises(ValueError, match="degraded_share needs degraded copies"):
        speaker_dataloaders(fixture_store, n_speakers=2, n_utterances=2, crop=(40, 60), degraded_share=0.3,
                            device='cpu', num_workers=0)


def test_degraded_copies_share_their_clean_clips_teacher_target(degraded_store):
    from simple_speaker_embedding.distill import SpectralTeacher, load_targets, teacher_targets
    from simple_speaker_embedding.store import load_manifest
    root, _ = degraded_store
    teacher_targets(root, SpectralTeacher(), n_workers=0, progress=False)
    man = load_manifest(root)
    T = load_targets(man, root, 'spectral', center=False)
    clean = {k: i for i, k in enumerate(man.key) if '~d' not in k}
    for i, k in enumerate(man.key):
        if '~d' in k: np.testing.assert_array_equal(T[i], T[clean[k.split('~d')[0]]])
    # and the clean target is the teacher's embedding of the clean, trimmed clip (computed here, not by teacher_targets)
    from simple_speaker_embedding.audio import resample
    x, _ = load_audio(man.source[0], sr=SAMPLE_RATE)
    e = SpectralTeacher()(resample(trim_silence(x), SAMPLE_RATE, 16000))
    np.testing.assert_allclose(T[0][0], e / np.linalg.norm(e), atol=1e-5)


def test_sse_preprocess_degrade_on_the_command_line(sse, tmp_path, fixture_root):
    r = sse("preprocess", fixture_root, tmp_path / "m", "--degrade", "telefone")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0
    assert "unknown degradation 'telefone'" in r.stderr and "did you mean 'telephone'" in r.stderr
    r = sse("preprocess", fixture_root, tmp_path / "m", "--degrade", "level", "eq", "--degrade-copies", "2", "--workers", "1")
    assert r.returncode == 0, r.stderr
    n = len(list(fixture_root.glob("*/*/*.ogg")))
    assert f"{3 * n} mels" in r.stdout and f"{2 * n} of the mels are degraded copies" in r.stdout
    import json
    rec = json.loads((tmp_path / "m" / "preprocess.json").read_text())
    assert rec["degrade"] == dict(kinds=["eq", "level"], copies=2, seed=0)


def test_degraded_share_leaves_a_speaker_without_copies_clean(degraded_store):
    "A store where one speaker has no copies (e.g. two stores trained together, one degraded): its utterances stay clean, "
    "the others get their share."
    from simple_speaker_embedding.data import speaker_dataloaders
    from simple_speaker_embedding.store import load_manifest
    root, _ = degraded_store
    man = load_manifest(root)
    kw = dict(n_speakers=2, n_utterances=8, crop=(40, 60), valid_pct=0.34, device='cpu', num_workers=0, rounds=10)
    bare = sorted(man.iloc[speaker_dataloaders(man, **kw).train.rows].speaker.unique())[0]    # a training speaker
    man = man[~((man.speaker == bare) & (man.degrade != ''))].reset_index(drop=True)
    dl = speaker_dataloaders(man, degraded_share=0.5, **kw).train
    picked = np.array([i for i, _, _ in dl.get_idxs()])
    rows = man.iloc[dl.rows[picked]]
    assert (rows[rows.speaker == bare].degrade == '').all() and (rows.speaker == bare).any()
    assert (rows[rows.speaker != bare].degrade != '').mean() > 0.3
