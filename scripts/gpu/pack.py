"""Pack training mels (JPEG, quality Q, in 65,000-frame strips) and their CAM++ targets (int8) into .gpu/data.zip:
    python scripts/gpu/pack.py MELS [Q]       (MELS: `sse preprocess` output with teacher_campplus/)
"""
import io, sys, zipfile, numpy as np, pandas as pd
from PIL import Image
from pathlib import Path
root = Path(sys.argv[1]); Q = int(sys.argv[2]) if len(sys.argv) > 2 else 30
OUT = Path('.gpu/data.zip'); OUT.parent.mkdir(exist_ok=True)
LO, HI, W = -11.52, 2.0, 65000
man = pd.read_csv(root / 'manifest.csv')
mels = [np.load(root / p) for p in man.path]
assert all(len(m) == f for m, f in zip(mels, man.frames))
cat = np.concatenate(mels).astype(np.float32)
u = np.clip(np.round((cat - LO) / (HI - LO) * 255), 0, 255).astype(np.uint8)
T = np.stack([np.load(root / 'teacher_campplus' / p) for p in man.path]).astype(np.float32)
scale = np.abs(T).max() / 127
with zipfile.ZipFile(OUT, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('manifest.csv', man[['path', 'dataset', 'speaker', 'frames']].to_csv(index=False))
    for k, s in enumerate(range(0, len(u), W)):
        b = io.BytesIO(); Image.fromarray(u[s:s + W].T).save(b, format='JPEG', quality=Q, optimize=True)
        z.writestr(f'mel_{k:04d}.jpg', b.getvalue())
    b = io.BytesIO(); np.save(b, np.round(T / scale).astype(np.int8)); z.writestr('targets_int8.npy', b.getvalue())
    z.writestr('targets_scale.txt', repr(float(scale)))
print('frames', len(u), 'clips', len(man), 'scale', scale, 'zip MB', OUT.stat().st_size / 1e6)
