"""Streaming embeddings on one CPU thread: per-chunk latency and real-time factor for 20-ms, 100-ms and 1-s chunks,
and agreement with the offline path (cosine of the final embedding with `embed_mels`; with `--trials`, the
same/different decisions on every pair of each dev set, streamed vs offline).

    python bench/stream_latency.py ../shared/data/dev/cv_en --files 20 [--out docs/results/stream_latency.json] \
        [--trials ../shared/data/dev/cv_en ../shared/data/dev/speechocean762 ../shared/data/dev/librispeech_halves]

Each file is read at the model's rate and pushed to `model.stream()` in chunks of the given size (as fast as it
goes, timing each `push`); the real-time factor is processing time / audio time. A long stream (the files joined,
about a minute) shows the windowed policy's constant work.
"""
import argparse
import json
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from simple_speaker_embedding.audio import find_audio, load_audio, melspec_from_array
from simple_speaker_embedding.hub import gru_embedder

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root"); ap.add_argument("--files", type=int, default=20); ap.add_argument("--out", default=None)
    ap.add_argument("--trials", nargs="*", default=[], help="dev sets (<speaker>/<clip>) whose pairs' decisions are compared")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = gru_embedder()
    sr = model.mel_hparams.sampling_rate
    files = sorted(find_audio(Path(a.root)))[:a.files]
    audio = [load_audio(f, sr=sr)[0] for f in files]
    streams = audio + [np.concatenate(audio)]                 # the files, then all of them joined
    res = {}
    for ms in (20, 100, 1000):
        n, lat, total_t, total_s, cos = int(sr * ms / 1000), [], 0.0, 0.0, []
        for i, x in enumerate(streams):
            st = model.stream(); t_all = time.perf_counter()
            for j in range(0, len(x), n):
                t0 = time.perf_counter(); st.push(x[j:j + n]); lat.append(time.perf_counter() - t0)
            e = st.end(); total_t += time.perf_counter() - t_all; total_s += len(x) / sr
            cos.append(float(e @ model.embed_mels([melspec_from_array(x)])[0]))
        lat = np.array(lat) * 1000
        res[f"{ms} ms"] = dict(chunks=len(lat), latency_ms_median=float(np.median(lat)),
                               latency_ms_p99=float(np.quantile(lat, 0.99)),
                               latency_ms_max=float(lat.max()), real_time_factor=total_t / total_s,
                               min_cosine_with_offline=min(cos),
                               audio_s=total_s)
        r = res[f"{ms} ms"]
        print(f"{ms:>5} ms chunks: {r['chunks']} pushes, latency median {r['latency_ms_median']:.2f} ms, p99 "
              f"{r['latency_ms_p99']:.2f} ms, "
              f"max {r['latency_ms_max']:.1f} ms; real-time factor {r['real_time_factor']:.4f}; "
              f"cosine with offline >= {r['min_cosine_with_offline']:.6f} ({total_s:.0f} s of audio, {len(streams)} streams)",
              flush=True)
    for root in a.trials:
        files = sorted(find_audio(Path(root)))
        spk = [f.parent.name for f in files]
        streamed, untrimmed, offline = [], [], []
        for f in files:
            x = load_audio(f, sr=sr)[0]
            st = model.stream()
            for j in range(0, len(x), sr // 10): st.push(x[j:j + sr // 10])
            streamed.append(st.end()); untrimmed.append(model.embed_mels([melspec_from_array(x)])[0])
            offline.append(model.embed_utterance(f))
        i, j = map(np.array, zip(*combinations(range(len(files)), 2)))
        decide = lambda E: model.score(torch.stack(E)[i], torch.stack(E)[j]) >= model.threshold
        d_s, d_u, d_o = decide(streamed), decide(untrimmed), decide(offline)
        same = np.array(spk)[i] == np.array(spk)[j]
        r = res[f"decisions {Path(root).name}"] = dict(
            pairs=len(i), agree_with_untrimmed=float((d_s == d_u).mean()), agree_with_embed_utterance=float((d_s == d_o).mean()),
            fa_fr_streamed=[float(d_s[~same].mean()), float(1 - d_s[same].mean())],
            fa_fr_embed_utterance=[float(d_o[~same].mean()), float(1 - d_o[same].mean())],
            min_cosine_streamed_vs_embed_utterance=float(min(float(a @ b) for a, b in zip(streamed, offline))))
        print(f"{Path(root).name}: {len(i)} pairs; streamed decisions agree with embed_mels (untrimmed) on "
              f"{100 * r['agree_with_untrimmed']:.3f}%, with embed_utterance (trimmed) on "
              f"{100 * r['agree_with_embed_utterance']:.2f}%; "
              f"FA/FR streamed {100 * r['fa_fr_streamed'][0]:.2f}/{100 * r['fa_fr_streamed'][1]:.2f}%, "
              f"embed_utterance {100 * r['fa_fr_embed_utterance'][0]:.2f}/{100 * r['fa_fr_embed_utterance'][1]:.2f}%", flush=True)
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1))
