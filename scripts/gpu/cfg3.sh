# stage 6 (diarization: short windows): continuations of the shipped stage-5 weights with stage 5's recipe
# (GE2E + embedding distillation, band-limiting 30%), varying only the crop lengths (frames; 86 per second).
# The run started from the then-shipped file ("init": "shipped"); to repeat it now, take stage 5 from git history:
#   git show f3a5654:simple_speaker_embedding/weights/gru_embedder.pt > .gpu/init_stage5.pt
I=.gpu/init_stage5.pt
declare -A cfg=(
  [s6_same]='{"teacher":"campplus","init":"'$I'","band_p":0.3}'
  [s6_short]='{"teacher":"campplus","init":"'$I'","band_p":0.3,"crop":[80,160]}'
  [s6_mixed]='{"teacher":"campplus","init":"'$I'","band_p":0.3,"crop":[80,240]}'
  [s6_short_w10]='{"teacher":"campplus","init":"'$I'","band_p":0.3,"crop":[80,160],"distill_weight":10}'
)
