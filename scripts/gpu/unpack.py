"Unpack .gpu/data.zip into a mel store (one shard) with teacher_campplus/ targets: python unpack.py ZIP DST"
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from simple_speaker_embedding.store import MANIFEST_COLUMNS, write_frames

LO, HI = -11.52, 2.0
zp, dst = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(zp) as z:
    man = pd.read_csv(io.BytesIO(z.read('manifest.csv')), dtype=dict(key=str, dataset=str, speaker=str, session=str),
                      keep_default_na=False)
    jpgs = sorted(n for n in z.namelist() if n.startswith('mel_'))
    u = np.concatenate([np.asarray(Image.open(io.BytesIO(z.read(n))).convert('L')).T for n in jpgs])
    T = np.load(io.BytesIO(z.read('targets_int8.npy'))).astype(np.float32) * float(z.read('targets_scale.txt'))
cat = (u.astype(np.float32) / 255 * (HI - LO) + LO).astype(np.float16)
assert len(cat) == man.frames.sum(), (len(cat), man.frames.sum())
write_frames(dst / 'shards' / 'part-00000.npy', [cat], cat.shape[1])
(dst / 'teacher_campplus').mkdir(parents=True, exist_ok=True); np.save(dst / 'teacher_campplus' / 'part-00000.npy', T)
man = man.assign(source='', shard='shards/part-00000.npy', offset=np.cumsum(man.frames) - man.frames)[MANIFEST_COLUMNS]
man.to_csv(dst / 'manifest.csv', index=False)
print(f"unpacked {len(man)} clips, {len(cat)} frames into {dst}")
