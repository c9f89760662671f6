"""Conversations to evaluate diarization and tracking on, mixed from single-speaker clips (what studies/diarization.py,
studies/diarize_count.py and studies/track.py score; `tests/conversation/` was made with it). Imported as
`from conversations import synth_conversation` (a script's own folder is on its path).

`synth_conversation` builds a seeded conversation from a folder of single-speaker clips (`<speaker>/<clip>`):
`n_speakers` people taking turns of 1-8 s (silences inside the clips trimmed), pauses between turns, some turns
starting before the previous one ends (overlap), each speaker at their own level. It returns the mixture and its
reference segments."""
from __future__ import annotations

import numpy as np

from simple_speaker_embedding.audio import SAMPLE_RATE, load_audio, trim_silence
from simple_speaker_embedding.corpus import list_utterances  # checks the folder layout


def synth_conversation(root, # folder of `<speaker>/<clip>` audio (e.g. a dev set)
                       n_speakers:int=2, # people in the conversation
                       n_turns:int=12, # speaker turns
                       seed:int=0,
                       sr:int=SAMPLE_RATE, # sample rate of the mixture
                       turn:tuple=(1.0, 8.0), # turn length range, seconds
                       pause:tuple=(0.2, 1.0), # silence between turns, seconds
                       overlap_p:float=0.15, # fraction of turns that start before the previous one ends
                       overlap:tuple=(0.2, 1.0), # how much earlier, seconds
                       level_db:float=6.0, # each speaker's level: +-this many dB
                      ) -> tuple[np.ndarray, list]:
    "A seeded multi-speaker recording and its reference `(start, end, speaker)` segments."
    rng = np.random.default_rng(seed)
    by_spk = {s: list(g.path) for s, g in list_utterances(root).groupby('speaker', sort=True)}
    names = sorted(by_spk)
    if len(names) < n_speakers: raise ValueError(f"{root} has {len(names)} speakers, {n_speakers} asked for")
    chosen = [names[i] for i in rng.choice(len(names), n_speakers, replace=False)]
    pools, pos = {}, {}
    for s in chosen:
        clips = [by_spk[s][i] for i in rng.permutation(len(by_spk[s]))]
        pools[s] = np.concatenate([trim_silence(load_audio(c, sr=sr)[0]) for c in clips]); pos[s] = 0
    gains = {s: 10 ** (rng.uniform(-level_db, level_db) / 20) for s in chosen}
    parts, ref, t, prev = [], [], 0.0, None
    for i in range(n_turns):
        s = chosen[i % n_speakers] if i < n_speakers else str(rng.choice([c for c in chosen if c != prev]))
        n = int(rng.uniform(*turn) * sr)
        pool = pools[s]; idx = (pos[s] + np.arange(n)) % len(pool); pos[s] = (pos[s] + n) % len(pool)
        seg = pool[idx] / (np.abs(pool).max() + 1e-9) * 0.5 * gains[s]
        start = t + rng.uniform(*pause) if i == 0 or rng.random() >= overlap_p else max(0.0, t - rng.uniform(*overlap))
        parts.append((int(start * sr), seg)); ref.append((start, start + n / sr, s))
        t, prev = max(t, start + n / sr), s
    y = np.zeros(int(t * sr) + sr // 2, np.float32)
    for s0, seg in parts: y[s0:s0 + len(seg)] += seg
    return y / max(1.0, float(np.abs(y).max())), ref