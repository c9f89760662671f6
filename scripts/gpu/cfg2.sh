I=.gpu/init_ge2e_emb.pt
declare -A cfg=(
  [s2_same]='{"teacher":"campplus","init":"'$I'"}'
  [s2_w10]='{"teacher":"campplus","init":"'$I'","distill_weight":10}'
  [s2_long]='{"teacher":"campplus","init":"'$I'","crop":[200,400]}'
  [s2_band]='{"teacher":"campplus","init":"'$I'","band_p":0.3}'
  [s2_light]='{"teacher":"campplus","init":"'$I'","band_p":0.3,"reverb_p":0.1,"distort_p":0.1}'
)
