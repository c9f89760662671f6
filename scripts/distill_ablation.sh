#!/usr/bin/env bash
# Distillation ablation at equal budget: every row warm-starts from the shipped weights and trains the same number
# of steps on the same batches (same seed), then is scored on both dev sets with `sse eval` (all pairs).
#   bash scripts/distill_ablation.sh MELS DEV_ROOT OUT [EPOCHS]
# MELS: `sse preprocess ... --speeds 0.9 1.0 1.1` output with `sse teacher-targets` run on it (teacher_campplus/).
# DEV_ROOT: folder holding cv_en/ and speechocean762/. Results: OUT/<row>/model.pt, OUT/<row>/eval_<set>.txt, OUT/ablation.tsv
set -euo pipefail
MELS=$1; DEV=$2; OUT=$3; EPOCHS=${4:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
common=(--init shipped --augment --crop 140 240 --epochs "$EPOCHS" --lr 5e-4 --seed 7 --device cpu --checkpoint-every 10)
declare -A rows=(
  [ge2e]=""
  [ge2e_distill]="--teacher campplus"
  [distill]="--teacher campplus --ge2e-weight 0"
  [ge2e_rw]="--real-world"
  [ge2e_distill_rw]="--teacher campplus --real-world"
  [distill_rw]="--teacher campplus --ge2e-weight 0 --real-world"
)
for row in ge2e ge2e_distill distill ge2e_rw ge2e_distill_rw distill_rw; do
  mkdir -p "$OUT"
  [ -f "$OUT/$row/model.pt" ] || sse train "$MELS" "$OUT/$row" "${common[@]}" ${rows[$row]} > "$OUT/$row.log" 2>&1   # rerun: resumes
  for set in cv_en speechocean762; do
    [ -f "$OUT/$row/eval_$set.txt" ] || sse eval "$DEV/$set" --model "$OUT/$row/model.pt" > "$OUT/$row/eval_$set.txt" 2>/dev/null
  done
done
{ printf "row\tcv_en EER\tcv_en CI\tcv_en minDCF\tso762 EER\tso762 CI\tso762 minDCF\n"
  for row in ge2e ge2e_distill distill ge2e_rw ge2e_distill_rw distill_rw; do
    f() { grep "$2" "$OUT/$row/eval_$1.txt" | cut -c20-; }        # `sse eval` prints an 18-character label column
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$row" "$(f cv_en 'EER (%)')" "$(f cv_en '95% CI')" "$(f cv_en minDCF)" \
      "$(f speechocean762 'EER (%)')" "$(f speechocean762 '95% CI')" "$(f speechocean762 minDCF)"
  done; } > "$OUT/ablation.tsv"
cat "$OUT/ablation.tsv"
