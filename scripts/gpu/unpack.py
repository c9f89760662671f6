"Unpack .gpu/data.zip into a `sse preprocess`-style folder with teacher_campplus/ targets: python unpack.py ZIP DST"
import io, sys, zipfile, numpy as np, pandas as pd
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from PIL import Image
LO, HI = -11.52, 2.0
zp, dst = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(zp) as z:
    man = pd.read_csv(io.BytesIO(z.read('manifest.csv')))
    jpgs = sorted(n for n in z.namelist() if n.startswith('mel_'))
    u = np.concatenate([np.asarray(Image.open(io.BytesIO(z.read(n))).convert('L')).T for n in jpgs])
    T = np.load(io.BytesIO(z.read('targets_int8.npy'))).astype(np.float32) * float(z.read('targets_scale.txt'))
cat = (u.astype(np.float32) / 255 * (HI - LO) + LO).astype(np.float16)
assert len(cat) == man.frames.sum(), (len(cat), man.frames.sum())
parts = np.split(cat, np.cumsum(man.frames.to_numpy())[:-1])
def write(i):
    p = man.path[i]
    for base, arr in ((dst, parts[i]), (dst / 'teacher_campplus', T[i])):
        f = base / p; f.parent.mkdir(parents=True, exist_ok=True); np.save(f, arr)
with ThreadPoolExecutor(16) as ex: list(ex.map(write, range(len(man))))
man.assign(source='').to_csv(dst / 'manifest.csv', index=False)
print(f"unpacked {len(man)} clips, {len(cat)} frames into {dst}")
