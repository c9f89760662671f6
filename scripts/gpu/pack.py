"""Pack a mel store (JPEG, quality Q, in 65,000-frame strips) and its CAM++ targets (int8) into .gpu/data.zip:
    python scripts/gpu/pack.py MELS [Q]       (MELS: `sse preprocess` output with `sse teacher-targets` done)
"""
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from simple_speaker_embedding.distill import load_targets
from simple_speaker_embedding.store import MelStore, load_manifest

root = Path(sys.argv[1]); Q = int(sys.argv[2]) if len(sys.argv) > 2 else 30
OUT = Path('.gpu/data.zip'); OUT.parent.mkdir(exist_ok=True)
LO, HI, W = -11.52, 2.0, 65000
man = load_manifest(root); store = MelStore(man)
cat = np.concatenate([store.maps[s][o:o + f] for s, o, f in zip(store.shard_of, store.offsets, store.lengths)]).astype(np.float32)
u = np.clip(np.round((cat - LO) / (HI - LO) * 255), 0, 255).astype(np.uint8)
T = load_targets(man, root, 'campplus', center=False)[np.arange(len(man))]
scale = np.abs(T).max() / 127
with zipfile.ZipFile(OUT, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('manifest.csv', man[['key', 'dataset', 'speaker', 'session', 'speed', 'frames']].to_csv(index=False))
    for k, s in enumerate(range(0, len(u), W)):
        b = io.BytesIO(); Image.fromarray(u[s:s + W].T).save(b, format='JPEG', quality=Q, optimize=True)
        z.writestr(f'mel_{k:04d}.jpg', b.getvalue())
    b = io.BytesIO(); np.save(b, np.round(T / scale).astype(np.int8)); z.writestr('targets_int8.npy', b.getvalue())
    z.writestr('targets_scale.txt', repr(float(scale)))
print('frames', len(u), 'clips', len(man), 'scale', scale, 'zip MB', OUT.stat().st_size / 1e6)
