declare -A cfg=(
  [ge2e]='{}'
  [ge2e_rw]='{"real_world":true}'
  [ge2e_emb]='{"teacher":"campplus"}'
  [ge2e_emb_rw]='{"teacher":"campplus","real_world":true}'
  [emb]='{"teacher":"campplus","ge2e_weight":0}'
  [emb_rw]='{"teacher":"campplus","ge2e_weight":0,"real_world":true}'
)
