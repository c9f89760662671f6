#!/usr/bin/env bash
# The objective ablation (docs/training.md, "Objectives"): GE2E, AAM-softmax and GE2E+AAM, two seeds each, at equal
# CPU budget (one epoch over every training speaker each: the same batches per seed), warm-started from the shipped
# weights; then each run's training-speaker validation EER (history.csv) and its dev EER (cosine, all pairs), and the
# uniform average of the two seeds' weights (`sse average`). Runs two trainings at a time, one thread each.
#     bash scripts/objective_ablation.sh            (DATA=../shared/data WORK=runs/objectives)
set -euo pipefail
DATA=${DATA:-../shared/data}; WORK=${WORK:-runs/objectives}
mkdir -p "$WORK/tree"
for d in "$DATA"/train/* "$DATA"/train_few/*; do ln -sfn "$(realpath "$d")" "$WORK/tree/$(basename "$d")"; done
[ -f "$WORK/mels/manifest.csv" ] || sse preprocess "$WORK/tree" "$WORK/mels"
COMMON="--init shipped --augment --band-p 0.3 --n-speakers 16 --n-utterances 4 --crop 80 240 --lr 5e-4 --epochs 1 --device cpu --workers 0"
train() { [ -f "$WORK/$1_s$2/model.pt" ] || OMP_NUM_THREADS=1 sse train "$WORK/mels" "$WORK/$1_s$2" $COMMON --objective "$1" --seed "$2" > "$WORK/$1_s$2.log" 2>&1; }
for obj in ge2e aam ge2e+aam; do train "$obj" 7 & train "$obj" 8 & wait; done
for obj in ge2e aam ge2e+aam; do [ -f "$WORK/${obj}_avg.pt" ] || sse average "$WORK/${obj}_s7/model.pt" "$WORK/${obj}_s8/model.pt" --out "$WORK/${obj}_avg.pt"; done
evaluate() {   # model, name: cosine EER on each dev set (no bootstrap), one line each
  for dev in cv_en speechocean762 librispeech_halves; do
    echo "$2 $dev $(OMP_NUM_THREADS=1 sse eval "$DATA/dev/$dev" --model "$1" --cosine --bootstrap 0 | grep '^EER')"
  done > "$WORK/eval_$2.txt"
}
evaluate shipped shipped &
for obj in ge2e aam ge2e+aam; do evaluate "$WORK/${obj}_s7/model.pt" "${obj}_s7" & evaluate "$WORK/${obj}_s8/model.pt" "${obj}_s8"; wait; done
for obj in ge2e aam ge2e+aam; do evaluate "$WORK/${obj}_avg.pt" "${obj}_avg"; done
cat "$WORK"/eval_*.txt
for f in "$WORK"/*_s?/history.csv; do echo "$f $(tail -1 "$f")"; done
