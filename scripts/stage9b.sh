#!/usr/bin/env bash
# Stage 9b: can the degraded copies help without costing clean speech? (docs/training.md, "Stage 9b")
# Stage 9's arms lost 0.3-0.4 points of clean validation EER; these draw a third of the crops from degraded copies
# instead of two thirds, with the distillation at weight 3 (third_kd) or 6 (third_kd6); recipes/stage9_third_kd*.toml.
# The control, clean_kd (recipes/stage9_clean_kd.toml: no degraded crop), seed 7 only: what further training alone does.
# Same store, teacher targets, warm start and validation as scripts/stage9.sh (run that first: it makes runs/stage9/mels).
# One run at a time on one thread (the other core stays free); a finished run is skipped, an interrupted one resumes.
#     bash scripts/stage9b.sh            (MELS=runs/stage9/mels WORK=runs/stage9b)
set -euo pipefail
MELS=${MELS:-runs/stage9/mels}; WORK=${WORK:-runs/stage9b}
mkdir -p "$WORK"
[ -f runs/stage8.pt ] || git show 129df1a:simple_speaker_embedding/weights/gru_embedder.pt > runs/stage8.pt
train() {   # arm seed: one run, skipped when done (an interrupted one resumes)
  [ -f "$WORK/${1}_s$2/model.pt" ] || OMP_NUM_THREADS=1 sse train "$MELS" "$WORK/${1}_s$2" --config "recipes/stage9_$1.toml" \
      --seed "$2" --device cpu --workers 0 > "$WORK/${1}_s$2.log" 2>&1
}
for s in 7 8; do for a in third_kd third_kd6; do train $a $s; done; done
train clean_kd 7
MODELS=""
for a in third_kd third_kd6; do
  [ -f "$WORK/${a}_avg.pt" ] || sse average "$WORK/${a}_s7/model.pt" "$WORK/${a}_s8/model.pt" --out "$WORK/${a}_avg.pt"
  MODELS="$MODELS $WORK/${a}_s7/model.pt $WORK/${a}_s8/model.pt $WORK/${a}_avg.pt"
done
for v in "" --degraded; do
  [ -f "$WORK/valid_control${v/--/_}.json" ] || OMP_NUM_THREADS=1 python scripts/valid_report.py "$MELS" "$WORK/clean_kd_s7/model.pt" \
      --valid-pct 0.1 --valid-seed 0 --asnorm $v --out "$WORK/valid_control${v/--/_}.json" > "$WORK/valid_control${v/--/_}.txt"
  [ -f "$WORK/valid${v/--/_}.json" ] || OMP_NUM_THREADS=1 python scripts/valid_report.py "$MELS" $MODELS --valid-pct 0.1 \
      --valid-seed 0 --asnorm $v --out "$WORK/valid${v/--/_}.json" > "$WORK/valid${v/--/_}.txt"
done
cat "$WORK/valid.txt" "$WORK/valid_degraded.txt"
for f in "$WORK"/*_s?.log; do echo "$f $(grep -h "^trained in" "$f")"; done
