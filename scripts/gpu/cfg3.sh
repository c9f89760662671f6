# stage 6 (diarization: short windows): continuations of the shipped stage-5 weights with stage 5's recipe
# (GE2E + embedding distillation, band-limiting 30%), varying only the crop lengths (frames; 86 per second)
declare -A cfg=(
  [s6_same]='{"teacher":"campplus","aug":{"band_p":0.3}}'
  [s6_short]='{"teacher":"campplus","aug":{"band_p":0.3},"crop":[80,160]}'
  [s6_mixed]='{"teacher":"campplus","aug":{"band_p":0.3},"crop":[80,240]}'
  [s6_short_w10]='{"teacher":"campplus","aug":{"band_p":0.3},"crop":[80,160],"distill_weight":10}'
)
