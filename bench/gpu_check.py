"""One GPU check, at most about 5 minutes: is CUDA used, correct and fast for inference and training?

    python bench/gpu_check.py [--steps 40]

Needs a CUDA GPU; prints, in order:
1. CUDA vs CPU agreement of the shipped model on the bundled example clips (min cosine, fp32 and bf16 autocast).
2. Inference utterances/s for 256 and 768 hidden units, batch 1/32/256, fp32 and bf16, five-second utterances.
3. Training steps/s (N32 x M8 crops of 140-180 frames) through the fastai Learner and through a bare PyTorch loop,
   fp32 and mixed precision, with peak GPU memory; and the training loss after `--steps` steps for fp32, bf16 and
   fp16 on the same batches (mixed precision must learn about as fast per step as fp32); host syncs per Learner step
   (CUDA's sync debug mode; the goal is 0). Steps are timed with one device sync at each end, not one per step.
Training data are synthetic log-mels of 64 speakers written to a temporary folder (throughput does not depend on
the audio; `../shared` does not travel to a GPU machine).
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from common import StepTimer

from simple_speaker_embedding.data import speaker_dataloaders
from simple_speaker_embedding.hub import example_files, gru_embedder
from simple_speaker_embedding.learner import ge2e_learner
from simple_speaker_embedding.loss import GE2ELoss
from simple_speaker_embedding.model import GRUEmbedder
from simple_speaker_embedding.store import MANIFEST_COLUMNS, write_frames

DEVICE = 'cuda'
def sync():
    if DEVICE == 'cuda': torch.cuda.synchronize()


def agreement():
    cpu, gpu = gru_embedder(), gru_embedder(device='cuda')
    mels = [cpu.melspec_from_file(f) for f in example_files()]
    a = cpu.embed_mels(mels)
    b = gpu.embed_mels(mels)
    c = gpu.embed_mels(mels, autocast=True)
    print(f"1. CUDA vs CPU, {len(mels)} clips: min cosine fp32 {float((a * b).sum(-1).min()):.8f}, "
          f"bf16 autocast {float((a * c).sum(-1).min()):.6f}")


def inference():
    print("2. inference, 5-s utterances (430 frames): utterances/s")
    x = torch.randn(256, 430, 80, device='cuda') - 5
    for hidden in (256, 768):
        m = GRUEmbedder(hidden=hidden).cuda().eval()
        for bs in (1, 32, 256):
            for bf16 in (False, True):
                with torch.inference_mode(), torch.autocast('cuda', dtype=torch.bfloat16, enabled=bf16):
                    m(x[:bs]); sync(); n, t = 0, time.perf_counter()
                    while time.perf_counter() - t < 1.0: m(x[:bs]); n += bs
                    sync()
                print(f"   hidden {hidden:>3}  batch {bs:>3}  {'bf16' if bf16 else 'fp32'}  {n / (time.perf_counter() - t):9.0f}")


def fake_mels(root, n_spk=64, n_utt=10, seed=0):
    "A mel store of synthetic log-mels (one shard), as `sse preprocess` writes it."
    rng = np.random.default_rng(seed); rows, arrays, offset = [], [], 0
    for s in range(n_spk):
        for u in range(n_utt):
            m = (rng.standard_normal((int(rng.integers(200, 500)), 80)) - 5 + s % 7 * 0.1).astype(np.float16)
            rows.append(dict(key=f'synth/spk{s:03d}/u{u}', dataset='synth', speaker=f'spk{s:03d}', session='', speed=1.0,
                             frames=len(m), source='', shard='shards/part-00000.npy', offset=offset))
            arrays.append(m); offset += len(m)
    write_frames(root / 'shards' / 'part-00000.npy', arrays)
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(root / 'manifest.csv', index=False)


def learner_rate(dls, hidden, steps, **kw):
    torch.manual_seed(0)
    learn = ge2e_learner(dls, GRUEmbedder(hidden=hidden), **kw); tm = StepTimer(steps, sync=sync)
    if DEVICE == 'cuda': torch.cuda.reset_peak_memory_stats()
    with learn.no_bar(), learn.no_logging(): learn.fit(100, 1e-3, cbs=tm)
    mem = torch.cuda.max_memory_allocated() / 2**20 if DEVICE == 'cuda' else float('nan')
    return tm.steps_per_s, mem, learn


def syncs_per_step(dls, hidden, steps=10):
    "Host syncs per Learner training step, counted by CUDA's sync debug mode (each synchronising call warns once)."
    if DEVICE != 'cuda': return float('nan')
    import warnings
    learn = ge2e_learner(dls, GRUEmbedder(hidden=hidden)); tm = StepTimer(steps + 2, sync=sync)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); torch.cuda.set_sync_debug_mode('warn')
        try:
            with learn.no_bar(), learn.no_logging(): learn.fit(100, 1e-3, cbs=tm)
        finally: torch.cuda.set_sync_debug_mode('default')
    calls = [str(x.message) for x in w if 'synchroniz' in str(x.message)]
    return (len(calls) - 2) / steps          # the StepTimer's two syncs excluded (its
                                             # steps include a validation-free epoch start)


def bare_rate(dls, hidden, steps, bf16=False):
    torch.manual_seed(0)
    model, loss = GRUEmbedder(hidden=hidden).to(DEVICE), GE2ELoss().to(DEVICE)
    opt = torch.optim.Adam([{'params': model.parameters()}, {'params': loss.parameters(), 'lr': 1e-5}], lr=1e-3)
    n, m = dls.train.n_speakers, dls.train.n_utterances
    batches = [(x, y.view(n, m)) for _, (x, y) in zip(range(4), dls.train)]    # (N, M) labels: no read-back in the loss
    t = []
    for i in range(steps):
        x, y = batches[i % len(batches)]
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=bf16): l = loss(model(x), y)
        opt.zero_grad(); l.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(loss.parameters()), 3.0); opt.step()
        if i in (1, steps - 1): sync(); t.append(time.perf_counter())
    return (steps - 2) / (t[-1] - t[0])


def training(steps, hiddens=(256, 768)):
    root = Path(tempfile.mkdtemp()); fake_mels(root)
    common = dict(n_speakers=32, n_utterances=8, crop=(140, 180), valid_pct=0.1, progress=False, device=DEVICE)
    dls = speaker_dataloaders(root, **common)          # a small store: copied to GPU memory, one gather per batch
    disk = speaker_dataloaders(root, in_memory=False, **common)   # read from the shard by DataLoader workers, pinned
    print(f"3. training, N32 x M8, 140-180 frames: steps/s (peak GPU memory); store in GPU memory: {dls.train.in_memory}")
    for hidden in hiddens:
        for name, kw in (('fp32', {}), ('bf16', dict(bf16=True)), ('fp16', dict(fp16=True))):
            if DEVICE != 'cuda' and name != 'fp32': continue
            r, mem, learn = learner_rate(dls, hidden, steps, **kw)
            bare = bare_rate(dls, hidden, steps, bf16=name == 'bf16') if name != 'fp16' else float('nan')
            losses = [float(l) for l in learn.recorder.losses]
            print(f"   hidden {hidden:>3} {name}: Learner {r:6.1f} ({mem:6.0f} MiB), bare loop {bare:6.1f}, "
                  f"Learner/bare {r / bare:5.2f}; train loss first/last {losses[0]:.3f}/{losses[-1]:.3f}")
        print(f"   hidden {hidden:>3} fp32: host syncs per Learner step {syncs_per_step(dls, hidden):.1f}")
        r, _, _ = learner_rate(disk, hidden, steps)
        print(f"   hidden {hidden:>3} fp32, crops read from disk by {disk.train.fake_l.num_workers} workers: Learner {r:6.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--cpu-smoke", action="store_true", help="only part 3, on the CPU, 256 units: checks the script runs")
    a = ap.parse_args()
    if a.cpu_smoke:
        global DEVICE; DEVICE = 'cpu'; training(a.steps, hiddens=(256,)); return
    if not torch.cuda.is_available(): raise SystemExit("gpu_check: no CUDA device here")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    agreement(); inference(); training(a.steps)


if __name__ == "__main__":
    main()
