"""Train the speaker-count detector (`vad.Segmenter`: how many people talk in each mel frame: none, one, two or more)
on synthetic meetings of training speakers, and write its weights.

    python scripts/train_segmenter.py --roots ../shared/data/train/cv_multilang ../shared/data/train/speechocean762 \\
        ../shared/data/train/msc_malayalam ../shared/data/train/cv_tw ../shared/data/train/cv_uz \\
        --work runs/segmenter4 --n 480 --clean 120 --epochs 36 --steps 200 \\
        --out simple_speaker_embedding/weights/segmenter.pt

(The shipped weights, sha256 `85cd51aa`: meetings 0-239 and the clean conversations were last release's data (the same
seeds, linked in), meetings 240-479 took about 5 min to make; 51 min of epochs on one thread beside one other job. CPU
training is not bit-for-bit repeatable here: last release's 20-epoch run on the first 240 meetings gave `e517b526`, an
earlier run of that command `ac7d4fe8`.)

Meetings are made by `studies/meetings.py`'s `synth_meeting` (far-field rooms, overlap, back-channels, noise), with a
room bank of its own (seed 3: neither the training store's, the degraded dev sets' nor the meeting bench's rooms) and
from speaker folders the meeting bench does not use (its training meetings are an4, cv_fa and cv_vi: they choose the
detector's thresholds, so they are kept out of its training). Each meeting's log-mels and frame labels (how many
reference turns cover the frame, at most 2) are written once to `WORK/data/` (an interrupted run resumes); training
checkpoints every epoch to `WORK/last.pt` and resumes from it. One meeting in ten is held out: frame accuracy,
speech detection error and overlap recall/precision are printed every epoch.

`--clean N` adds N clean conversations of the same folders (`studies/conversations.py`'s `synth_conversation`: close-talk
clips, 2-4 people, 10-20 turns, 15% of the turns starting before the previous one ends; labels from its turns), so
that clean close-talk speech is in the training distribution too: without them the segmenter labelled false overlap
on clean conversations (docs/diarization.md). One in ten of them is held out and scored on its own (`clean_*`).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies"))
from conversations import synth_conversation  # noqa: E402
from meetings import FPS, SR, synth_meeting  # noqa: E402

from simple_speaker_embedding.audio import (  # noqa: E402
    MelHParams,  # noqa: E402
    TacotronMel,
    melspec_from_array,
)
from simple_speaker_embedding.degrade import room_bank  # noqa: E402
from simple_speaker_embedding.utils import atomic_write  # noqa: E402
from simple_speaker_embedding.vad import Segmenter  # noqa: E402

ROOM_SEED = 3


def frame_labels(ref, n:int) -> np.ndarray:
    "How many reference turns cover each of `n` mel frames (0, 1, or 2 for two or more)."
    c = np.zeros(n, np.int64)
    for s, e, _ in ref: c[int(round(s * FPS)):int(round(e * FPS))] += 1
    return np.minimum(c, 2)


def make_data(roots, n:int, work:Path):
    "Write meeting i's mels and labels to `work/data/i.npz` (skipped when there)."
    bank, mel = room_bank(work / "rooms.npz", n=40, seed=ROOM_SEED), TacotronMel()
    (work / "data").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        f = work / "data" / f"{i}.npz"
        if f.exists(): continue
        y, ref = synth_meeting(roots[i % len(roots)], 5000 + i, bank)
        m = melspec_from_array(y, SR, mel=mel).numpy().astype(np.float16)
        with atomic_write(f) as fh: np.savez(fh, mel=m, lab=frame_labels(ref, len(m)))
        if i % 20 == 0: print(f"meeting {i}/{n}", flush=True)


def make_clean(roots, n:int, work:Path):
    "Write clean conversation i's mels and labels to `work/data/clean{i}.npz` (skipped when there)."
    mel = TacotronMel(); (work / "data").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        f = work / "data" / f"clean{i}.npz"
        if f.exists(): continue
        rng = np.random.default_rng(9000 + i)
        y, ref = synth_conversation(roots[i % len(roots)], n_speakers=2 + i % 3, n_turns=int(rng.integers(10, 21)),
                                    seed=9000 + i, sr=SR)
        m = melspec_from_array(y, SR, mel=mel).numpy().astype(np.float16)
        with atomic_write(f) as fh: np.savez(fh, mel=m, lab=frame_labels(ref, len(m)))
        if i % 20 == 0: print(f"clean conversation {i}/{n}", flush=True)


def load(work:Path, n:int, prefix:str=""):
    return [(torch.from_numpy(z['mel'].astype(np.float32)), torch.from_numpy(z['lab']))
            for z in (np.load(work / "data" / f"{prefix}{i}.npz") for i in range(n))]


def batches(data, rng, crop:int, bs:int, steps:int):
    "Random `crop`-frame pieces of the meetings, at a random level (-20 to +6 dB: the log-mel floor kept)."
    for _ in range(steps):
        xs, ys = [], []
        for _ in range(bs):
            m, l = data[int(rng.integers(len(data)))]; a = int(rng.integers(max(1, len(m) - crop)))
            g = float(np.log(10 ** (rng.uniform(-20, 6) / 20)))
            xs.append((m[a:a + crop] + g).clamp(min=MelHParams.min_log_value)); ys.append(l[a:a + crop])
        yield torch.stack(xs), torch.stack(ys)


@torch.no_grad()
def scores(model, data) -> dict:
    "Held-out frame accuracy, speech detection error (over speech), overlap recall and false overlap (of speech)."
    model.eval(); acc = n = miss = fa = speech = ov = ov_hit = ov_false = 0
    for m, l in data:
        p = model(m[None])[0].softmax(-1); pred = p.argmax(-1)
        acc += (pred == l).sum().item(); n += len(l)
        sp, hs = l > 0, pred > 0
        speech += sp.sum().item(); miss += (sp & ~hs).sum().item(); fa += (~sp & hs).sum().item()
        ov += (l == 2).sum().item(); ov_hit += ((l == 2) & (pred == 2)).sum().item()
        ov_false += ((l < 2) & (pred == 2)).sum().item()
    model.train()
    return dict(accuracy=acc / n, detection_error=(miss + fa) / speech, miss=miss / speech, false_alarm=fa / speech,
                overlap_recall=ov_hit / max(ov, 1), false_overlap=ov_false / speech)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roots", nargs="+", required=True, help="speaker folders of training speakers")
    ap.add_argument("--work", default="runs/segmenter"); ap.add_argument("--n", type=int, default=240, help="meetings")
    ap.add_argument("--clean", type=int, default=0, help="clean conversations added (see above)")
    ap.add_argument("--epochs", type=int, default=12); ap.add_argument("--steps", type=int, default=150, help="per epoch")
    ap.add_argument("--bs", type=int, default=16); ap.add_argument("--crop", type=float, default=5.0, help="seconds")
    ap.add_argument("--lr", type=float, default=2e-3); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="where to write the trained weights (state dict)")
    a = ap.parse_args()
    torch.set_num_threads(1); torch.manual_seed(a.seed)
    work = Path(a.work); make_data(a.roots, a.n, work); make_clean(a.roots, a.clean, work)
    data, clean = load(work, a.n), load(work, a.clean, "clean")
    val, train = data[::10], [d for i, d in enumerate(data) if i % 10]
    cval = clean[::10]; train += [d for i, d in enumerate(clean) if i % 10]
    prior = torch.bincount(torch.cat([l for _, l in train]), minlength=3).float()
    print(f"{len(train)} training recordings, {len(val)} + {len(cval)} held out; frames with 0/1/2+ speakers: "
          f"{(prior / prior.sum()).numpy().round(3).tolist()}", flush=True)
    model = Segmenter(); opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=a.epochs * a.steps)
    start, log = 0, []
    if (work / "last.pt").exists():
        ck = torch.load(work / "last.pt", weights_only=True)
        model.load_state_dict(ck['model']); opt.load_state_dict(ck['opt']); sched.load_state_dict(ck['sched'])
        start, log = ck['epoch'], json.loads(ck['log']); print(f"resumed after epoch {start}", flush=True)
    rng = np.random.default_rng([a.seed, start])
    for ep in range(start, a.epochs):
        t0, tot = time.time(), 0.0
        for x, y in batches(train, rng, int(a.crop * FPS), a.bs, a.steps):
            loss = F.cross_entropy(model(x).reshape(-1, 3), y.reshape(-1))
            opt.zero_grad(); loss.backward(); opt.step(); sched.step(); tot += loss.item()
        s = dict(epoch=ep + 1, loss=tot / a.steps, seconds=time.time() - t0, **scores(model, val))
        if cval: s.update({f"clean_{k}": v for k, v in scores(model, cval).items()})
        log.append(s)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()}), flush=True)
        with atomic_write(work / "last.pt") as fh:
            torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(), epoch=ep + 1,
                            log=json.dumps(log)), fh)
    (work / "log.json").write_text(json.dumps(log, indent=1))
    if a.out:
        with atomic_write(Path(a.out)) as fh: torch.save(model.state_dict(), fh)
        import hashlib
        print(f"wrote {a.out}: sha256 {hashlib.sha256(Path(a.out).read_bytes()).hexdigest()} (record it as vad.SEGMENTER_SHA256)")


if __name__ == "__main__":
    main()
