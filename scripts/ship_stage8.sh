#!/usr/bin/env bash
# A stage's candidate as it would ship (stage 8; stage 9 with WORK=runs/stage9 and TRAIN_DATA), and the checks that decide whether it does (docs/training.md, "Objectives"):
#   1. scripts/ship_weights.py: cohort of every training speaker (train + train_few, up to 8 clips each), top 100, the
#      shipped threshold policy (3% pooled false accepts, at most 3% per dev set, centre of the window keeping each set
#      within 15% false rejects), dev numbers into meta -> $WORK/shipped.pt (not yet the package's file);
#   2. the leave-one-dev-set-out report of the candidate (studies/embed_cache.py + studies/decision_rules.py) beside stage 7's;
#   3. the training-speaker validation of both (scripts/valid_report.py, AS-norm against the store's training speakers).
#     bash scripts/ship_stage8.sh runs/stage8/ge2e+aam_avg.pt      (DATA=../shared/data WORK=runs/stage8)
set -euo pipefail
CAND=$1; DATA=${DATA:-../shared/data}; WORK=${WORK:-runs/stage8}
DEV="$DATA/dev/cv_en $DATA/dev/speechocean762 $DATA/dev/librispeech_halves"
COHORT="$DATA/train $DATA/train_few"
RECIPE=${RECIPE:-"see recipes/stage8.toml"}
TRAIN_DATA=${TRAIN_DATA:-"../shared/data/train (673 speakers: Common Voice 59 languages + fa/uz/tw/vi, speechocean762, Malayalam Speech \
Corpus, an4) and ../shared/data/train_few (2,326 speakers with 1-40 clips: cv_multilang, speech_commands, alnum_en, as \
few_*), one speed; 10% of each dataset's speakers held out for validation (valid_seed 0); stages 1-7 as before"}
[ -f "$WORK/shipped.pt" ] || OMP_NUM_THREADS=1 python scripts/ship_weights.py "$CAND" --top-k 100 --fa 0.03 --max-fa-per-set 0.03 \
    --max-fr-per-set 0.15 --dev $DEV --cohort $COHORT --recipe "$RECIPE" --train-data "$TRAIN_DATA" --out "$WORK/shipped.pt" > "$WORK/ship.log" 2>&1 &
[ -f "$WORK/cache/dev_cv_en.npz" ] && [ -f "$WORK/cache/cohort_train_speechocean762.npz" ] ||
    OMP_NUM_THREADS=1 python studies/embed_cache.py "$WORK/cache" $DEV --cohort $COHORT --model "$CAND" > "$WORK/cache.log" 2>&1
wait
tail -3 "$WORK/ship.log"
OMP_NUM_THREADS=1 python studies/decision_rules.py "$WORK/cache" --out "$WORK/decision_rules.json" | grep -A4 "^held out" 
