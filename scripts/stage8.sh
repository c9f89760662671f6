#!/usr/bin/env bash
# Stage 8: the objective ablation at equal CPU budget (docs/training.md, "Objectives"), two seeds per arm, every run
# warm-started from the shipped stage-7 weights and validated on the same held-out *training* speakers (10% of every
# training dataset, --valid-seed 0, whatever the run's --seed):
#   ge2e, aam, ge2e+aam   2 epochs (crops 80-240 frames, margin 0.2)
#   lm                    1 epoch of ge2e+aam, then the large-margin stage: one epoch of ge2e+aam at margin 0.3 on crops
#                         of 240-400 frames, lr 2e-4, N32 x M2 (twice the crop length, half the crops per speaker: the
#                         frames of one base epoch, its own whole one-cycle schedule)
#   *_avg                 `sse average` of an arm's two seeds (costs the two runs it averages)
# then every model's training-speaker validation EER (scripts/valid_report.py, cosine and AS-norm) and its dev EER
# (cosine, all pairs; never used to choose). Two trainings at a time, one thread each.
#     bash scripts/stage8.sh            (DATA=../shared/data WORK=runs/stage8)
set -euo pipefail
DATA=${DATA:-../shared/data}; WORK=${WORK:-runs/stage8}
mkdir -p "$WORK/tree"
for d in "$DATA"/train/*; do ln -sfn "$(realpath "$d")" "$WORK/tree/$(basename "$d")"; done
for d in "$DATA"/train_few/*; do ln -sfn "$(realpath "$d")" "$WORK/tree/few_$(basename "$d")"; done   # train_few/cv_multilang is not train/cv_multilang
[ -f "$WORK/mels/manifest.csv" ] || OMP_NUM_THREADS=1 sse preprocess "$WORK/tree" "$WORK/mels"
BASE="--init shipped --augment --band-p 0.3 --n-speakers 16 --n-utterances 4 --valid-pct 0.1 --valid-seed 0 --device cpu --workers 0"
run() {   # name seed flags...: one training run, skipped when done
  local n=$1 s=$2; shift 2
  [ -f "$WORK/${n}_s$s/model.pt" ] || OMP_NUM_THREADS=1 sse train "$WORK/mels" "$WORK/${n}_s$s" $BASE --seed "$s" "$@" > "$WORK/${n}_s$s.log" 2>&1
}
ARM="--crop 80 240 --lr 5e-4"
for s in 7 8; do
  run ge2e $s $ARM --epochs 2 --objective ge2e & run aam $s $ARM --epochs 2 --objective aam; wait
  run ge2e+aam $s $ARM --epochs 2 --objective ge2e+aam & { run lm1 $s $ARM --epochs 1 --objective ge2e+aam &&
    run lm $s --init "$WORK/lm1_s$s/model.pt" --objective ge2e+aam --margin 0.3 --crop 240 400 --n-speakers 32 --n-utterances 2 --lr 2e-4 --epochs 1; }; wait
done
for a in ge2e aam ge2e+aam lm; do [ -f "$WORK/${a}_avg.pt" ] || sse average "$WORK/${a}_s7/model.pt" "$WORK/${a}_s8/model.pt" --out "$WORK/${a}_avg.pt"; done
MODELS="shipped"; for a in ge2e aam ge2e+aam lm; do MODELS="$MODELS $WORK/${a}_s7/model.pt $WORK/${a}_s8/model.pt $WORK/${a}_avg.pt"; done
OMP_NUM_THREADS=1 python scripts/valid_report.py "$WORK/mels" $MODELS --valid-pct 0.1 --valid-seed 0 --asnorm --out "$WORK/valid.json" > "$WORK/valid.txt" &
evaluate() {   # model name: cosine EER on each dev set (no bootstrap), one line each
  [ -s "$WORK/eval_$2.txt" ] || for dev in cv_en speechocean762 librispeech_halves; do
    echo "$2 $dev $(OMP_NUM_THREADS=1 sse eval "$DATA/dev/$dev" --model "$1" --cosine --bootstrap 0 | grep '^EER')"
  done > "$WORK/eval_$2.txt"
}
evaluate shipped shipped
for a in ge2e aam ge2e+aam lm; do for s in s7 s8; do evaluate "$WORK/${a}_$s/model.pt" "${a}_$s"; done; evaluate "$WORK/${a}_avg.pt" "${a}_avg"; done
wait; cat "$WORK/valid.txt" "$WORK"/eval_*.txt
for f in "$WORK"/*_s?.log; do echo "$f $(grep -h "^trained in" "$f")"; done
